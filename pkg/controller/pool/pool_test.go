package pool

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/fake"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

const (
	cluster = "c1"
	node    = "node-1"
)

var testKey = NewKey(node, "proj-1", "net-1", []string{"sg-2", "sg-1"})

// testSpec is the Spec of testKey's project and network.
func testSpec(resourceTags ...string) Spec {
	return Spec{ClusterID: cluster, ResourceTags: resourceTags, ProjectID: "proj-1",
		Subnets: map[string][]string{"net-1": {"subnet-1"}}}
}

func pod(name, uid string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(uid)}}
}

func kuryrPort(name, portID string) *apiv1.KuryrPort {
	return &apiv1.KuryrPort{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Status:     apiv1.KuryrPortStatus{VIFs: map[string]apiv1.VIFStatus{"eth0": {Default: true, VIF: apiv1.VIF{ID: portID}}}},
	}
}

func reader(objs ...client.Object) client.Reader {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = apiv1.AddToScheme(s)
	return crfake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}

type harness struct {
	t   *testing.T
	os  *fake.Neutron
	m   *Manager
	ctx context.Context
}

// newHarness builds a manager over a fake Neutron; start runs it and waits for recovery.
func newHarness(t *testing.T, minPorts, maxPorts, batch int, objs ...client.Object) *harness {
	t.Helper()
	osc := fake.New()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m := New(Options{
		Neutron: osc, Reader: reader(objs...),
		Spec: testSpec("extra"),
		Min:  minPorts, Max: maxPorts, Batch: batch,
		SyncPeriod: time.Hour, QuotaRetry: time.Hour, Log: testr.New(t),
	})
	return &harness{t: t, os: osc, m: m, ctx: ctx}
}

func (h *harness) start() {
	h.t.Helper()
	go func() { _ = h.m.Start(h.ctx) }()
	h.eventually("pools recovered", func() bool { return h.m.ReadyCheck(nil) == nil })
}

func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// freePort adds a free pool port of testKey to the fake Neutron.
func (h *harness) freePort(mutate ...func(*neutron.Port)) neutron.Port {
	p := neutron.Port{
		Name: ownership.PoolPortName, NetworkID: "net-1", ProjectID: "proj-1", HostID: node,
		DeviceOwner: neutron.DeviceOwnerKuryr, Status: neutron.PortStatusDown,
		SecurityGroups: []string{"sg-1", "sg-2"}, Tags: ownership.PoolPortTags(cluster, nil),
		FixedIPs: []neutron.FixedIP{{SubnetID: "subnet-1", IPAddress: "10.0.0.70"}},
	}
	for _, f := range mutate {
		f(&p)
	}
	return h.os.AddPort(p)
}

func (h *harness) port(id string) neutron.Port {
	h.t.Helper()
	p, err := h.os.GetPort(context.Background(), id)
	if err != nil {
		h.t.Fatalf("port %s: %v", id, err)
	}
	return *p
}

func TestAcquireHitTakesAFreePort(t *testing.T) {
	h := newHarness(t, 0, 0, 2)
	free := h.freePort()
	h.start()
	port, hit, err := h.m.Acquire(h.ctx, testKey, pod("web", "uid-1"))
	if err != nil || !hit || port.ID != free.ID {
		t.Fatalf("Acquire = %v, %v, %v; want hit on %s", port, hit, err, free.ID)
	}
	if h.os.Calls("create port") != 0 || h.m.Free(testKey) != 0 {
		t.Errorf("creates = %d, free = %d", h.os.Calls("create port"), h.m.Free(testKey))
	}
	// Nothing was changed in Neutron yet: that is Bind's job, after the status write.
	if got := h.port(free.ID); got.Name != ownership.PoolPortName || got.DeviceID != "" || !got.HasTag(ownership.PoolTag) {
		t.Errorf("port changed on Acquire: %+v", got)
	}
}

func TestAcquireMissCreatesThePodsPortAtOnce(t *testing.T) {
	h := newHarness(t, 0, 0, 4)
	h.start()
	port, hit, err := h.m.Acquire(h.ctx, testKey, pod("web", "uid-1"))
	if err != nil || hit {
		t.Fatalf("Acquire = %v, %v, %v; want a miss", port, hit, err)
	}
	want := ownership.PortTags(cluster, "uid-1", []string{"extra"})
	if port.Name != "web" || port.DeviceID != "uid-1" || port.HostID != node || port.DeviceOwner != neutron.DeviceOwnerKuryr ||
		!slices.Equal(port.Tags, want) || !slices.Equal(port.SecurityGroups, []string{"sg-1", "sg-2"}) {
		t.Errorf("port = %+v", port)
	}
	if h.os.Calls("create port") != 1 || h.os.Calls("bulk create ports") != 0 {
		t.Errorf("creates = %d, bulk = %d", h.os.Calls("create port"), h.os.Calls("bulk create ports"))
	}
}

func TestRefillBelowMinWithOneBulkCall(t *testing.T) {
	h := newHarness(t, 3, 0, 2)
	seed := h.freePort() // the key is known from this port: the first sync tops the pool up
	h.start()
	h.eventually("pool filled to min", func() bool { return h.m.Free(testKey) >= 3 })
	if n := h.os.Calls("bulk create ports"); n != 1 || h.m.Free(testKey) != 3 {
		t.Fatalf("bulk creates = %d, free = %d; want one bulk of max(batch, min-size) = 2", n, h.m.Free(testKey))
	}
	for _, p := range h.os.Ports() {
		if p.ID == seed.ID {
			continue
		}
		if p.Name != ownership.PoolPortName || p.HostID != node || p.DeviceID != "" ||
			!slices.Equal(p.Tags, ownership.PoolPortTags(cluster, []string{"extra"})) ||
			!slices.Equal(p.FixedIPs[0:1], []neutron.FixedIP{{SubnetID: "subnet-1", IPAddress: p.FixedIPs[0].IPAddress}}) {
			t.Errorf("pool port = %+v", p)
		}
	}
	// Taking one drops the pool below min: one more bulk of batch size, in the background.
	if _, hit, err := h.m.Acquire(h.ctx, testKey, pod("web", "uid-1")); err != nil || !hit {
		t.Fatalf("Acquire: hit %v, %v", hit, err)
	}
	h.eventually("refilled", func() bool { return h.m.Free(testKey) == 4 })
	if n := h.os.Calls("bulk create ports"); n != 2 {
		t.Errorf("bulk creates = %d, want 2", n)
	}
}

func TestRefillFailureBacksOff(t *testing.T) {
	h := newHarness(t, 2, 0, 2)
	h.os.PortQuota = 1
	h.freePort()
	h.start()
	h.eventually("a refill attempt", func() bool { return h.os.Calls("bulk create ports") == 1 })
	p := h.m.pool(testKey)
	h.eventually("refill done", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return !p.refilling })
	h.m.maybeRefill(p)
	if _, hit, err := h.m.Acquire(h.ctx, testKey, pod("web", "uid-1")); err != nil || !hit {
		t.Fatalf("Acquire: hit %v, %v", hit, err)
	}
	time.Sleep(20 * time.Millisecond)
	if n := h.os.Calls("bulk create ports"); n != 1 {
		t.Errorf("bulk creates = %d: an over-quota refill must back off", n)
	}
	// The pod is still served: a miss whose create reports the classified error.
	_, _, err := h.m.Acquire(h.ctx, testKey, pod("web2", "uid-2"))
	if openstack.ClassOf(err) != openstack.ClassOverQuota {
		t.Errorf("miss error = %v, want over_quota", err)
	}
}

func TestBindGivesThePortThePodsIdentity(t *testing.T) {
	h := newHarness(t, 0, 0, 1)
	free := h.freePort()
	h.start()
	port, _, _ := h.m.Acquire(h.ctx, testKey, pod("web", "uid-1"))
	h.m.Bind(port, pod("web", "uid-1"))
	h.eventually("port renamed", func() bool { return h.port(free.ID).DeviceID == "uid-1" })
	h.eventually("port tagged", func() bool { p := h.port(free.ID); return p.HasTag(ownership.PodUIDTag("uid-1")) })
	got := h.port(free.ID)
	if got.Name != "web" || got.HasTag(ownership.PoolTag) || !got.HasTag(ownership.ClusterTag(cluster)) {
		t.Errorf("bound port = %+v", got)
	}
}

func TestReleaseReturnsThePortWithResetFields(t *testing.T) {
	h := newHarness(t, 0, 0, 1)
	used := h.os.AddPort(neutron.Port{
		Name: "web", NetworkID: "net-1", ProjectID: "proj-1", HostID: node, DeviceID: "uid-1",
		DeviceOwner: neutron.DeviceOwnerKuryr, Status: neutron.PortStatusActive,
		SecurityGroups: []string{"sg-np"}, Tags: ownership.PortTags(cluster, "uid-1", []string{"extra"}),
	})
	h.start()
	if err := h.m.Release(h.ctx, &neutron.Port{ID: used.ID}, testKey); err != nil {
		t.Fatal(err)
	}
	got := h.port(used.ID)
	if got.Name != ownership.PoolPortName || got.DeviceID != "" || !slices.Equal(got.SecurityGroups, []string{"sg-1", "sg-2"}) ||
		!slices.Equal(got.Tags, ownership.PoolPortTags(cluster, []string{"extra"})) {
		t.Errorf("released port = %+v", got)
	}
	// Still plugged: not handed out until Neutron reports it DOWN.
	if _, err := h.m.sync(h.ctx); err != nil || h.m.Free(testKey) != 0 {
		t.Fatalf("sync: %v, free = %d; want 0 while ACTIVE", err, h.m.Free(testKey))
	}
	h.os.SetPortStatus(used.ID, neutron.PortStatusDown, "")
	if _, err := h.m.sync(h.ctx); err != nil || h.m.Free(testKey) != 1 {
		t.Fatalf("sync: %v, free = %d; want 1 once DOWN", err, h.m.Free(testKey))
	}
	if port, hit, _ := h.m.Acquire(h.ctx, testKey, pod("web2", "uid-2")); !hit || port.ID != used.ID {
		t.Errorf("Acquire = %v, hit %v; want the released port", port, hit)
	}
}

func TestReleaseAboveMaxDeletes(t *testing.T) {
	h := newHarness(t, 0, 1, 1)
	h.freePort()
	used := h.os.AddPort(neutron.Port{Name: "web", HostID: node, DeviceID: "uid-1", DeviceOwner: neutron.DeviceOwnerKuryr})
	h.start()
	if err := h.m.Release(h.ctx, &neutron.Port{ID: used.ID}, testKey); err != nil {
		t.Fatal(err)
	}
	if _, err := h.os.GetPort(h.ctx, used.ID); !openstack.IsNotFound(err) {
		t.Errorf("port kept although the pool holds ports_pool_max ports: %v", err)
	}
	if h.m.Free(testKey) != 1 {
		t.Errorf("free = %d", h.m.Free(testKey))
	}
}

func TestReleaseOfAGonePortIsDone(t *testing.T) {
	h := newHarness(t, 0, 0, 1)
	h.start()
	if err := h.m.Release(h.ctx, &neutron.Port{ID: "no-such-port"}, testKey); err != nil {
		t.Fatal(err)
	}
}

func TestRestartRecoversFreePortsByTags(t *testing.T) {
	h := newHarness(t, 0, 0, 1, kuryrPort("web", "port-0002-0000-0000-0000-000000000000"))
	free := h.freePort()                                                      // port-0001
	recorded := h.freePort()                                                  // port-0002: a KuryrPort references it
	h.freePort(func(p *neutron.Port) { p.Status = neutron.PortStatusActive }) // still plugged
	h.freePort(func(p *neutron.Port) { p.Tags = ownership.PortTags(cluster, "uid-x", nil) })
	h.freePort(func(p *neutron.Port) { p.Tags = ownership.PoolPortTags("other", nil) })
	h.freePort(func(p *neutron.Port) { p.DeviceOwner = "network:dhcp" })
	other := h.freePort(func(p *neutron.Port) { p.HostID = "node-2" })
	if recorded.ID != "port-0002-0000-0000-0000-000000000000" {
		t.Fatalf("fake IDs changed: %s", recorded.ID)
	}
	h.start()
	if got := h.m.Free(testKey); got != 1 {
		t.Fatalf("free = %d, want only %s", got, free.ID)
	}
	if got := h.m.Free(KeyOf(&other)); got != 1 {
		t.Errorf("free on node-2 = %d", got)
	}
	if port, hit, _ := h.m.Acquire(h.ctx, testKey, pod("web2", "uid-2")); !hit || port.ID != free.ID {
		t.Errorf("Acquire = %v, %v", port, hit)
	}
}

func TestReadinessWaitsForRecovery(t *testing.T) {
	h := newHarness(t, 0, 0, 1)
	synced := make(chan struct{})
	h.m.o.WaitForCache = func(ctx context.Context) bool {
		select {
		case <-synced:
			return true
		case <-ctx.Done():
			return false
		}
	}
	go func() { _ = h.m.Start(h.ctx) }()
	if h.m.ReadyCheck(nil) == nil {
		t.Fatal("ready before recovery")
	}
	ctx, cancel := context.WithTimeout(h.ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := h.m.Acquire(ctx, testKey, pod("web", "uid-1")); err == nil {
		t.Fatal("Acquire served a port before recovery")
	}
	if h.os.Calls("create port") != 0 {
		t.Error("created a port before recovery")
	}
	close(synced)
	h.eventually("ready", func() bool { return h.m.ReadyCheck(nil) == nil })
}

func TestSyncDropsPortsDeletedOutside(t *testing.T) {
	h := newHarness(t, 0, 0, 1)
	a, b := h.freePort(), h.freePort()
	h.start()
	h.os.RemovePort(a.ID)
	if _, err := h.m.sync(h.ctx); err != nil {
		t.Fatal(err)
	}
	if port, hit, _ := h.m.Acquire(h.ctx, testKey, pod("web", "uid-1")); !hit || port.ID != b.ID {
		t.Errorf("Acquire = %v, %v; want %s", port, hit, b.ID)
	}
}

// A sync that lists a refill's ports while the bulk create is still in flight takes them in;
// when the create returns they must not be listed a second time (two pods would get one
// port).
func TestRefillAfterSyncListsNoPortTwice(t *testing.T) {
	h := newHarness(t, 0, 0, 2)
	h.start()
	a, b := h.freePort(), h.freePort()
	if _, err := h.m.sync(h.ctx); err != nil { // the sync sees the new ports first
		t.Fatal(err)
	}
	if n := h.m.Free(testKey); n != 2 {
		t.Fatalf("free after sync = %d, want 2", n)
	}
	// One of them is handed out before the create returns.
	if _, hit, err := h.m.Acquire(h.ctx, testKey, pod("web", "uid-1")); err != nil || !hit {
		t.Fatalf("Acquire: %v %v", hit, err)
	}
	p := h.m.pool(testKey)
	p.mu.Lock()
	h.m.addCreatedLocked(p, []neutron.Port{a, b}) // what the refill does with its result
	ids := map[string]int{}
	for _, f := range p.free {
		ids[f.ID]++
	}
	p.mu.Unlock()
	if len(ids) != 1 || ids[a.ID]+ids[b.ID] != 1 {
		t.Fatalf("free list after the refill returned: %v (want the one port not taken, once)", ids)
	}
}
