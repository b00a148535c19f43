package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/kuryr-go/kuryr-go/pkg/cni/api"
)

type fixture struct {
	ports   *fakePorts
	pods    fakePods
	plugger *fakePlugger
	tags    *fakeTags
	svc     *Service
}

func newFixture(signal string) *fixture {
	f := &fixture{ports: newFakePorts(), pods: fakePods{"default/pod1": testUID}, plugger: &fakePlugger{}, tags: &fakeTags{}}
	opts := DefaultOptions()
	opts.VIFTimeout, opts.ActiveTimeout, opts.ActiveSignal = 2*time.Second, 2*time.Second, signal
	opts.PollInterval, opts.PodCheckInterval = 10*time.Millisecond, 50*time.Millisecond
	f.svc = &Service{Ports: f.ports, Pods: f.pods, Plugger: f.plugger, Tags: f.tags, Opts: opts}
	return f
}

func addReq() *api.Request {
	return &api.Request{Command: api.CmdAdd, ContainerID: testCID, Netns: "/var/run/netns/t", IfName: "eth0",
		Args: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod1;K8S_POD_UID=" + testUID}
}

func code(t *testing.T, err error) uint {
	t.Helper()
	var e *types.Error
	if !errors.As(err, &e) {
		t.Fatalf("expected a CNI error, got %v", err)
	}
	return e.Code
}

func TestAddPlugsAndReturnsResult(t *testing.T) {
	f := newFixture(SignalNeutron)
	f.ports.set(testKP(testUID, true))
	res, err := f.svc.Add(context.Background(), addReq())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.plugger.plugs) != 1 {
		t.Fatalf("plugs: %d", len(f.plugger.plugs))
	}
	p := f.plugger.plugs[0]
	if p.IfName != "eth0" || !p.Default || p.PodUID != testUID || p.ContainerID != testCID || p.PodName != "pod1" || p.Netns != "/var/run/netns/t" {
		t.Fatalf("plug request: %+v", p)
	}
	if res.Interfaces[1].Name != "eth0" || res.Interfaces[1].Mac != "fa:16:3e:aa:bb:cc" || res.Interfaces[0].Name != "tap0a1b2c3d-4e" {
		t.Fatalf("result: %+v %+v", res.Interfaces[0], res.Interfaces[1])
	}
	if len(f.plugger.unplugs) != 0 {
		t.Fatal("a successful ADD must not roll back")
	}
}

func TestAddWaitsForTheKuryrPort(t *testing.T) {
	f := newFixture(SignalNeutron)
	go func() {
		time.Sleep(100 * time.Millisecond)
		kp := testKP(testUID, false)
		kp.Status.VIFs = nil
		f.ports.set(kp) // created, no VIF yet
		time.Sleep(100 * time.Millisecond)
		f.ports.set(testKP(testUID, false)) // VIF written
		time.Sleep(100 * time.Millisecond)
		f.ports.set(testKP(testUID, true)) // port ACTIVE
	}()
	start := time.Now()
	if _, err := f.svc.Add(context.Background(), addReq()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestAddOfMissingPodFailsClearly(t *testing.T) {
	f := newFixture(SignalNeutron)
	delete(f.pods, "default/pod1")
	start := time.Now()
	_, err := f.svc.Add(context.Background(), addReq())
	if code(t, err) != types.ErrUnknownContainer || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("got %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("a missing pod must fail fast, not after the VIF timeout")
	}
}

func TestAddOfRecreatedPodFails(t *testing.T) {
	f := newFixture(SignalNeutron)
	f.pods["default/pod1"] = "another-uid"
	_, err := f.svc.Add(context.Background(), addReq())
	if code(t, err) != types.ErrUnknownContainer || !strings.Contains(err.Error(), "re-created") {
		t.Fatalf("got %v", err)
	}
}

func TestAddWaitsWhileKuryrPortHasOldUID(t *testing.T) {
	f := newFixture(SignalNeutron)
	f.ports.set(testKP("old-uid", true))
	go func() {
		time.Sleep(100 * time.Millisecond)
		f.ports.set(testKP(testUID, true))
	}()
	if _, err := f.svc.Add(context.Background(), addReq()); err != nil {
		t.Fatal(err)
	}
}

func TestStaticPodIgnoresUID(t *testing.T) {
	f := newFixture(SignalNeutron)
	kp := testKP("mirror-uid", true)
	kp.Spec.PodStatic = true
	f.ports.set(kp)
	if _, err := f.svc.Add(context.Background(), addReq()); err != nil {
		t.Fatal(err)
	}
}

func TestVIFTimeoutIsTryAgainLater(t *testing.T) {
	f := newFixture(SignalNeutron)
	f.svc.Opts.VIFTimeout = 150 * time.Millisecond
	_, err := f.svc.Add(context.Background(), addReq())
	if code(t, err) != types.ErrTryAgainLater || !strings.Contains(err.Error(), "waiting for the VIFs") {
		t.Fatalf("got %v", err)
	}
	if n, _ := f.plugger.counts(); n != 0 {
		t.Fatal("nothing may be plugged without a VIF")
	}
}

func TestOVSTagEndsActiveWait(t *testing.T) {
	for _, signal := range []string{SignalOVS, SignalAny} {
		f := newFixture(signal)
		f.ports.set(testKP(testUID, false))
		go func() {
			time.Sleep(50 * time.Millisecond)
			f.tags.set("tap0a1b2c3d-4e", 3)
		}()
		if _, err := f.svc.Add(context.Background(), addReq()); err != nil {
			t.Fatalf("%s: %v", signal, err)
		}
	}
}

// A port that was already ACTIVE before the ADD (sandbox re-created) must be waited for by
// its new OVS tag: Neutron's status still describes the old device.
func TestAlreadyActivePortWaitsForNewTag(t *testing.T) {
	f := newFixture(SignalAny)
	f.ports.set(testKP(testUID, true))
	go func() {
		time.Sleep(150 * time.Millisecond)
		f.tags.set("tap0a1b2c3d-4e", 3)
	}()
	start := time.Now()
	if _, err := f.svc.Add(context.Background(), addReq()); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 150*time.Millisecond {
		t.Fatal("returned on the stale ACTIVE flag")
	}
}

func TestNeutronSignalIgnoresOVSTag(t *testing.T) {
	f := newFixture(SignalNeutron)
	f.svc.Opts.ActiveTimeout = 150 * time.Millisecond
	f.ports.set(testKP(testUID, false))
	f.tags.set("tap0a1b2c3d-4e", 3)
	if _, err := f.svc.Add(context.Background(), addReq()); code(t, err) != types.ErrTryAgainLater {
		t.Fatalf("got %v", err)
	}
}

func TestActiveTimeoutRollsBack(t *testing.T) {
	f := newFixture(SignalAny)
	f.svc.Opts.ActiveTimeout = 150 * time.Millisecond
	f.ports.set(testKP(testUID, false))
	_, err := f.svc.Add(context.Background(), addReq())
	if code(t, err) != types.ErrTryAgainLater || !strings.Contains(err.Error(), "active") {
		t.Fatalf("got %v", err)
	}
	if plugs, unplugs := f.plugger.counts(); plugs != 1 || unplugs != 1 || f.plugger.unplugs[0] != testCID {
		t.Fatalf("plugs %d unplugs %v", plugs, f.plugger.unplugs)
	}
}

func TestNoActiveWait(t *testing.T) {
	f := newFixture(SignalNone)
	f.ports.set(testKP(testUID, false))
	if _, err := f.svc.Add(context.Background(), addReq()); err != nil {
		t.Fatal(err)
	}
}

func TestPlugFailureRollsBack(t *testing.T) {
	f := newFixture(SignalNone)
	f.ports.set(testKP(testUID, true))
	f.plugger.plugErr = errBoom
	_, err := f.svc.Add(context.Background(), addReq())
	if code(t, cniError(err)) != types.ErrInternal || !strings.Contains(err.Error(), "plugging port") {
		t.Fatalf("got %v", err)
	}
	if _, unplugs := f.plugger.counts(); unplugs != 1 {
		t.Fatal("failed plug must be rolled back")
	}
}

func TestCancelledRequestStopsWaiting(t *testing.T) {
	f := newFixture(SignalNeutron)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	if _, err := f.svc.Add(ctx, addReq()); code(t, err) != types.ErrTryAgainLater {
		t.Fatalf("got %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("cancellation ignored")
	}
}

func TestAddRequiresPodArgs(t *testing.T) {
	f := newFixture(SignalNone)
	req := addReq()
	req.Args = "IgnoreUnknown=1"
	if _, err := f.svc.Add(context.Background(), req); code(t, err) != types.ErrInvalidEnvironmentVariables {
		t.Fatalf("got %v", err)
	}
}

func TestDelAlwaysUnplugsByContainer(t *testing.T) {
	f := newFixture(SignalNone)
	for _, args := range []string{"", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=unknown"} {
		req := &api.Request{Command: api.CmdDel, ContainerID: "c-x", IfName: "eth0", Args: args}
		if err := f.svc.Del(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	if _, unplugs := f.plugger.counts(); unplugs != 2 {
		t.Fatalf("unplugs: %d", unplugs)
	}
}

func TestCheck(t *testing.T) {
	f := newFixture(SignalNone)
	req := addReq()
	req.Command = api.CmdCheck
	if err := f.svc.Check(context.Background(), req); code(t, err) != types.ErrUnknownContainer {
		t.Fatalf("no KuryrPort: %v", err)
	}
	f.ports.set(testKP(testUID, true))
	if err := f.svc.Check(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	f.plugger.checkErr = errBoom
	if err := f.svc.Check(context.Background(), req); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("got %v", err)
	}
}

func TestParseArgs(t *testing.T) {
	ref, err := ParseArgs("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=n;K8S_POD_INFRA_CONTAINER_ID=x;K8S_POD_UID=u")
	if err != nil || ref != (PodRef{Namespace: "ns", Name: "n", UID: "u"}) {
		t.Fatalf("%+v %v", ref, err)
	}
	if _, err := ParseArgs("garbage"); err == nil {
		t.Fatal("expected an error")
	}
}

func TestResultLabels(t *testing.T) {
	for err, want := range map[error]string{
		nil:                       "success",
		tryAgain("x", nil):        "try_again_later",
		errBoom:                   "error_999",
		types.NewError(3, "", ""): "pod_not_found",
	} {
		if got := resultLabel(err); got != want {
			t.Errorf("%v: %s, want %s", err, got, want)
		}
	}
}

// Plugs are bounded by MaxParallelPlugs; a failing plug gives its slot back.
func TestPlugSlotsAreBoundedAndReleased(t *testing.T) {
	s := &Service{Opts: Options{MaxParallelPlugs: 2}}
	ctx := context.Background()
	r1, err := s.slot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := s.slot(ctx)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := s.slot(short); err == nil {
		t.Fatal("a third slot was granted with MaxParallelPlugs 2")
	}
	r1()
	r3, err := s.slot(ctx)
	if err != nil {
		t.Fatalf("slot after a release: %v", err)
	}
	r2()
	r3()
}
