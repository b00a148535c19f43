package parking

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug"
)

type fakeSource struct {
	free    []apiv1.VIF
	pods    map[string]bool
	status  [2]int
	changed chan struct{}
}

func (f *fakeSource) Pool(context.Context) (*apiv1.KuryrPortPool, error) {
	kpp := &apiv1.KuryrPortPool{Spec: apiv1.KuryrPortPoolSpec{Ports: f.free}}
	kpp.Status = apiv1.KuryrPortPoolStatus{Free: f.status[0], Plugged: f.status[1]}
	return kpp, nil
}
func (f *fakeSource) PodPorts(context.Context) (map[string]bool, error) {
	return f.pods, nil
}
func (f *fakeSource) Changed() <-chan struct{} { return f.changed }
func (f *fakeSource) SetPoolStatus(_ context.Context, st apiv1.KuryrPortPoolStatus) error {
	f.status = [2]int{st.Free, st.Plugged}
	return nil
}

type fakeParker struct {
	mu       sync.Mutex
	parked   map[string]bool
	fail     map[string]error
	unparked []string
}

func (f *fakeParker) Park(_ context.Context, v *apiv1.VIF) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[v.ID]; err != nil {
		return err
	}
	f.parked[v.ID] = true
	return nil
}

func (f *fakeParker) Unpark(_ context.Context, v *apiv1.VIF) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.parked, v.ID)
	f.unparked = append(f.unparked, v.ID)
	return nil
}

func (f *fakeParker) ListParked(context.Context, plug.Lister) ([]plug.Parked, error) {
	var out []plug.Parked
	for id := range f.parked {
		out = append(out, plug.Parked{PortID: id})
	}
	return out, nil
}

func vifs(ids ...string) []apiv1.VIF {
	out := make([]apiv1.VIF, 0, len(ids))
	for _, id := range ids {
		out = append(out, apiv1.VIF{ID: id})
	}
	return out
}

func newManager(t *testing.T) (*Manager, *fakeSource, *fakeParker) {
	src := &fakeSource{pods: map[string]bool{}, changed: make(chan struct{})}
	pk := &fakeParker{parked: map[string]bool{}, fail: map[string]error{}}
	m := &Manager{Source: src, Parker: pk, Grace: time.Hour, RetryAfter: time.Hour, Log: testr.New(t)}
	return m, src, pk
}

func TestPassParksFreePortsAndReports(t *testing.T) {
	m, src, pk := newManager(t)
	src.free = vifs("a", "b", "c")
	src.pods["c"] = true // recorded for a pod already: its ADD plugs it
	m.Pass(context.Background())
	if !pk.parked["a"] || !pk.parked["b"] || pk.parked["c"] {
		t.Fatalf("parked %v", pk.parked)
	}
	if src.status != [2]int{3, 2} {
		t.Errorf("status %v", src.status)
	}
}

func TestTakenPortStaysUntilItsPodIsGoneAndGraceEnds(t *testing.T) {
	m, src, pk := newManager(t)
	ctx := context.Background()
	src.free = vifs("a", "b")
	m.Pass(ctx)
	// a is taken by a pod: out of the pool, recorded in a KuryrPort.
	src.free = vifs("b")
	src.pods["a"] = true
	m.Grace = 0
	m.Pass(ctx)
	m.Pass(ctx)
	if len(pk.unparked) != 0 {
		t.Fatalf("a port recorded for a pod was unparked: %v", pk.unparked)
	}
	// The pod went away before its ADD: the port is unplugged once the grace is over.
	delete(src.pods, "a")
	m.Grace = 20 * time.Millisecond
	m.Pass(ctx)
	if len(pk.unparked) != 0 {
		t.Fatalf("unparked before the grace: %v", pk.unparked)
	}
	time.Sleep(30 * time.Millisecond)
	m.Pass(ctx)
	if !slices.Equal(pk.unparked, []string{"a"}) {
		t.Fatalf("unparked %v, want [a]", pk.unparked)
	}
}

func TestFailedParkIsRetriedLater(t *testing.T) {
	m, src, pk := newManager(t)
	ctx := context.Background()
	src.free = vifs("a")
	pk.fail["a"] = errors.New("ovsdb down")
	m.RetryAfter = 20 * time.Millisecond
	var events []string
	m.Event = func(reason, msg string) { events = append(events, reason+": "+msg) }
	m.Pass(ctx)
	if len(events) != 1 || !strings.Contains(events[0], "ParkFailed") || !strings.Contains(events[0], "ovsdb down") {
		t.Fatalf("events %v", events)
	}
	delete(pk.fail, "a")
	m.Pass(ctx) // too early
	if pk.parked["a"] {
		t.Fatal("retried before RetryAfter")
	}
	time.Sleep(30 * time.Millisecond)
	m.Pass(ctx)
	if !pk.parked["a"] {
		t.Fatal("not retried")
	}
}

func TestRunRecoversParkedPorts(t *testing.T) {
	m, src, pk := newManager(t)
	pk.parked["old"] = true // parked before a restart, no longer in the pool
	src.free = vifs("new")
	m.Grace = time.Millisecond
	m.Resync = 5 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pk.mu.Lock()
		ok := pk.parked["new"] && !pk.parked["old"]
		pk.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("parked %v", pk.parked)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A port a pod took and gave back is parked anew (the pod's ADD moved the interface away).
func TestPortBackFromAPodIsParkedAgain(t *testing.T) {
	m, src, pk := newManager(t)
	ctx := context.Background()
	src.free = vifs("a")
	m.Pass(ctx)
	src.free = nil
	src.pods["a"] = true
	m.Pass(ctx)
	delete(pk.parked, "a") // the pod's ADD took the interface, its DEL removed it
	delete(src.pods, "a")
	src.free = vifs("a")
	m.Pass(ctx)
	if !pk.parked["a"] {
		t.Fatal("port back in the pool not parked again")
	}
	if src.status != [2]int{1, 1} {
		t.Errorf("status %v", src.status)
	}
}
