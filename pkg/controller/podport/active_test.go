package podport

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kuryr-go/kuryr-go/pkg/openstack/fake"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

func TestActiveWatchOneListForAllWaitingPorts(t *testing.T) {
	ctx := context.Background()
	oc := fake.New()
	var ids []string
	for i := 0; i < 3; i++ {
		p, err := oc.CreatePort(ctx, neutron.PortCreateOpts{Name: "p", NetworkID: "n", ProjectID: "k8s"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	w := &ActiveWatch{Neutron: oc, Interval: time.Hour, Log: testr.New(t)}
	for i, id := range ids {
		w.Wait(id, types.NamespacedName{Namespace: "ns", Name: "pod" + string(rune('a'+i))})
	}
	oc.SetPortStatus(ids[1], neutron.PortStatusActive, "ovs")
	before := oc.Calls("list ports")
	w.PollOnce(ctx)
	if got := oc.Calls("list ports") - before; got != 1 {
		t.Fatalf("list calls per poll = %d, want 1 for all waiting ports", got)
	}
	select {
	case ev := <-w.Events():
		if ev.Object.GetName() != "podb" || ev.Object.GetNamespace() != "ns" {
			t.Fatalf("enqueued %s/%s, want ns/podb", ev.Object.GetNamespace(), ev.Object.GetName())
		}
	default:
		t.Fatal("the ACTIVE port's pod was not enqueued")
	}
	if w.Pending() != 2 {
		t.Fatalf("pending = %d, want 2 (the ACTIVE port is done)", w.Pending())
	}
	w.Done(ids[0])
	w.PollOnce(ctx)
	if w.Pending() != 1 || len(w.Events()) != 0 {
		t.Fatalf("pending %d, queued %d; want 1 and 0", w.Pending(), len(w.Events()))
	}
}

// The reconcile a poll triggers takes the port the poll listed instead of a GET, once.
func TestActiveWatchHandsOverThePolledPort(t *testing.T) {
	ctx := context.Background()
	oc := fake.New()
	p, err := oc.CreatePort(ctx, neutron.PortCreateOpts{Name: "p", NetworkID: "n", ProjectID: "k8s"})
	if err != nil {
		t.Fatal(err)
	}
	w := &ActiveWatch{Neutron: oc, Interval: time.Hour, Log: testr.New(t)}
	if _, ok := w.Take(p.ID); ok {
		t.Fatal("Take before any poll found the port")
	}
	w.Wait(p.ID, types.NamespacedName{Namespace: "ns", Name: "pod"})
	oc.SetPortStatus(p.ID, neutron.PortStatusActive, "ovs")
	w.PollOnce(ctx)
	got, ok := w.Take(p.ID)
	if !ok || got.ID != p.ID || got.Status != neutron.PortStatusActive {
		t.Fatalf("Take = %+v, %v; want the ACTIVE port", got, ok)
	}
	if _, ok := w.Take(p.ID); ok {
		t.Fatal("the port was handed over twice")
	}
}
