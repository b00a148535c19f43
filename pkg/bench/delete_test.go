package bench

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	osfake "github.com/kuryr-go/kuryr-go/pkg/openstack/fake"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

func TestDeleteSummaryStats(t *testing.T) {
	var d DeleteSummary
	var samples []PodSample
	for i := 1; i <= 10; i++ {
		samples = append(samples, PodSample{Name: string(rune('a' + i)), Gone: float64(i)})
	}
	samples = append(samples, PodSample{Name: "never gone"})
	d.setPods(samples)
	if d.DeleteGraceSeconds != DeleteGraceSeconds || d.DeleteP50 != 5 || d.DeleteP99 != 10 || d.DeleteLast != 10 || d.PodsLeft != 1 {
		t.Errorf("pods: %+v", d)
	}
	d.setPorts([]float64{0.5, 3, 1}, 0)
	if d.Ports != 3 || d.PortsLeft == nil || *d.PortsLeft != 0 || d.PortsReleasedLast == nil || *d.PortsReleasedLast != 3 {
		t.Errorf("ports all released: %+v", d)
	}
	d.setPorts([]float64{0.5}, 2)
	if d.Ports != 3 || *d.PortsLeft != 2 || d.PortsReleasedLast != nil {
		t.Errorf("ports left: %+v (no last release while any is left)", d)
	}
}

func TestDeleteFieldsInJSON(t *testing.T) {
	var kuryr, bridge BurstResult
	kuryr.setPods([]PodSample{{Gone: 2}})
	kuryr.setPorts([]float64{4}, 0)
	bridge.setPods([]PodSample{{Gone: 1}})
	for _, c := range []struct {
		res        BurstResult
		want, none []string
	}{
		{kuryr, []string{"delete_p50", "delete_p99", "delete_last", "ports_released_last", "ports_left", "delete_grace_seconds"}, nil},
		{bridge, []string{"delete_p50", "delete_p99", "delete_last"}, []string{"ports_released_last", "ports_left"}},
	} {
		b, err := json.Marshal(c.res)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range c.want {
			if _, ok := m[k]; !ok {
				t.Errorf("%s missing in %s", k, b)
			}
		}
		for _, k := range c.none {
			if _, ok := m[k]; ok {
				t.Errorf("%s in the bridge result %s", k, b)
			}
		}
	}
}

func TestPodsGoneWithin(t *testing.T) {
	for _, c := range []struct {
		last, bridge float64
		ok           bool
	}{
		{1.7, 0.35, true}, {1.71, 0.35, false}, {23.3, 0.35, false}, {9, 4, true}, {9.01, 4, false},
	} {
		if got := PodsGoneWithin(c.last, c.bridge); got != c.ok {
			t.Errorf("PodsGoneWithin(%v, %v) = %v", c.last, c.bridge, got)
		}
	}
	gone := func(mode string, last float64, left int) BurstResult {
		b := BurstResult{Mode: mode}
		b.DeleteGraceSeconds, b.DeleteLast, b.PodsLeft = DeleteGraceSeconds, last, left
		return b
	}
	r := &Results{Bursts: []BurstResult{gone("bridge", 2, 0), gone("kuryr", 24, 0), gone("kuryr-pools", 4.5, 0), gone("x", 1, 1)}}
	want := map[string]bool{"kuryr" + CheckPodsGone: false, "kuryr-pools" + CheckPodsGone: true, "x" + CheckPodsGone: false}
	got := r.Checks()
	if len(got) != len(want) {
		t.Errorf("checks %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("check %s = %v, want %v", k, got[k], v)
		}
	}
	if ratio := r.Ratios()["kuryr/pods_gone_vs_bridge"]; ratio != 12 {
		t.Errorf("pods_gone_vs_bridge = %v", ratio)
	}
	if d := r.DeleteSummaries(); d["kuryr-pools"].DeleteLast != 4.5 || len(d) != 4 {
		t.Errorf("delete summaries %+v", d)
	}
	if got := (&Results{Bursts: r.Bursts[1:]}).Checks(); len(got) != 0 {
		t.Errorf("checks without a bridge floor: %v", got)
	}
}

// The release of the ports a burst used, listing after listing.
func TestPortRelease(t *testing.T) {
	uids := map[string]string{"uid-a": "pod-a", "uid-b": "pod-b", "uid-c": "pod-c", "uid-d": "pod-d"}
	poolTags := []string{ownership.ClusterTag("c1"), ownership.PoolTag}
	podTags := func(uid string) []string { return []string{ownership.ClusterTag("c1"), ownership.PodUIDTag(uid)} }
	// KuryrPorts recorded the pool ports p-b, p-c, p-d; p-a is a port created for its pod.
	r := newPortRelease(uids)
	r.track([]string{"p-b", "p-c", "p-d", "p-pool"})
	ports := []neutron.Port{
		{ID: "p-a", DeviceID: "uid-a", Tags: podTags("uid-a")},             // noop: the pod's own port
		{ID: "p-b", DeviceID: "uid-b", Tags: podTags("uid-b")},             // pool port bound to its pod
		{ID: "p-c", Name: ownership.PoolPortName, Tags: poolTags},          // pool port not bound yet
		{ID: "p-d", DeviceID: "uid-d", Tags: poolTags},                     // bind half done: device_id set
		{ID: "p-other", DeviceID: "uid-other", Tags: podTags("uid-other")}, // not the burst's
		{ID: "p-free", Name: ownership.PoolPortName, Tags: poolTags},       // a free pool port
	}
	refs := map[string]bool{"p-b": true, "p-c": true, "p-d": true}
	r.update(ports, refs, 1)
	if want := []string{"p-a", "p-b", "p-c", "p-d"}; strings.Join(sortedKeys(r.held), ",") != strings.Join(want, ",") {
		t.Fatalf("held %v, want %v", sortedKeys(r.held), want)
	}
	if r.released["p-pool"] != 1 { // recorded, but gone from Neutron (a full pool deletes it)
		t.Errorf("released %v", r.released)
	}

	// p-a deleted; p-b reset but its KuryrPort still there; p-c and p-d no longer referenced.
	ports = []neutron.Port{
		{ID: "p-b", Name: ownership.PoolPortName, Tags: poolTags},
		{ID: "p-c", Name: ownership.PoolPortName, Tags: poolTags},
		{ID: "p-d", DeviceID: "uid-d", Tags: poolTags},
	}
	r.update(ports, map[string]bool{"p-b": true}, 2)
	if strings.Join(sortedKeys(r.held), ",") != "p-b,p-d" || r.released["p-a"] != 2 || r.released["p-c"] != 2 {
		t.Fatalf("held %v, released %v", sortedKeys(r.held), r.released)
	}
	ports[2].DeviceID = ""
	r.update(ports, nil, 3.5)
	r.track([]string{"p-b"}) // seen again by the KuryrPort watch: released already
	if len(r.held) != 0 || r.released["p-b"] != 3.5 || r.released["p-d"] != 3.5 || r.released["p-a"] != 2 {
		t.Fatalf("held %v, released %v", sortedKeys(r.held), r.released)
	}
	if got := r.times(); len(got) != 5 || got[0] != 1 || got[4] != 3.5 {
		t.Errorf("times %v", got)
	}
}

func TestTrackerGone(t *testing.T) {
	tr := newTracker()
	tr.uids["bench-0"], tr.uids["bench-1"] = "u0", "u1"
	start := time.Now()
	del := func(name, uid string, after time.Duration) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(uid)}}
		tr.onPod(watch.Deleted, p, start.Add(after))
	}
	del("bench-0", "old-uid", time.Second) // an earlier pod of the same name
	del("bench-0", "u0", 2*time.Second)
	del("bench-0", "u0", 3*time.Second) // the first time counts
	if tr.podsLeft() != 1 {
		t.Fatalf("pods left %d", tr.podsLeft())
	}
	s := []PodSample{{Name: "bench-0"}, {Name: "bench-1"}}
	tr.setGone(s, start)
	if s[0].Gone != 2 || s[1].Gone != 0 {
		t.Errorf("samples %+v", s)
	}
}

// A burst whose port is never released fails within the release timeout, with the port
// counted as left; pods and KuryrPorts already gone do not hide it.
func TestWaitDeletedFailsOnPortsLeft(t *testing.T) {
	s := runtime.NewScheme()
	if err := apiv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	k8s := crfake.NewClientBuilder().WithScheme(s).Build()
	osc := osfake.New()
	osc.AddPort(neutron.Port{ID: "p-1", DeviceID: "u0", DeviceOwner: neutron.DeviceOwnerKuryr})
	tr := newTracker()
	tr.uids["bench-0"] = "u0"
	start := time.Now()
	tr.markGone("bench-0", "u0", start.Add(time.Second))
	opts := BurstOptions{Namespace: "ns", Mode: "kuryr", Neutron: osc, GoneTimeout: time.Minute, ReleaseTimeout: 10 * time.Millisecond}
	res := &BurstResult{Samples: []PodSample{{Name: "bench-0"}}}
	err := waitDeleted(context.Background(), k8s, opts, tr, res, start)
	if err == nil || !strings.Contains(err.Error(), "not released") || !strings.Contains(err.Error(), "p-1") {
		t.Fatalf("error %v", err)
	}
	if res.PortsLeft == nil || *res.PortsLeft != 1 || res.Ports != 1 || res.DeleteLast != 1 || res.PodsLeft != 0 {
		t.Errorf("result %+v", res.DeleteSummary)
	}

	osc.RemovePort("p-1")
	res = &BurstResult{Samples: []PodSample{{Name: "bench-0"}}}
	if err := waitDeleted(context.Background(), k8s, opts, tr, res, start); err != nil {
		t.Fatal(err)
	}
	if *res.PortsLeft != 0 || res.PortsReleasedLast == nil {
		t.Errorf("result %+v", res.DeleteSummary)
	}
}
