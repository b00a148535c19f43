package pool

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// newPublishingHarness is a harness whose manager publishes KuryrPortPools to a fake API
// holding objs.
func newPublishingHarness(t *testing.T, objs ...client.Object) (*harness, client.Client) {
	t.Helper()
	h := newHarness(t, 0, 0, 2)
	w := reader(objs...).(client.Client)
	h.m = New(Options{
		Neutron: h.os, Reader: w, Writer: w,
		VIFOf: func(p *neutron.Port) (apiv1.VIF, bool) {
			return apiv1.VIF{ID: p.ID, NetworkID: p.NetworkID}, p.NetworkID == "net-1"
		},
		PublishInterval: 10 * time.Millisecond,
		Spec:            testSpec(),
		SyncPeriod:      time.Hour, QuotaRetry: time.Hour, Log: testr.New(t),
	})
	return h, w
}

// park writes node's KuryrPortPool listing ports, as an earlier controller published it
// (the node then plugs them ahead).
func park(t *testing.T, w client.Client, node string, ports ...neutron.Port) {
	t.Helper()
	kpp := &apiv1.KuryrPortPool{Spec: apiv1.KuryrPortPoolSpec{NodeName: node}}
	kpp.Name = node
	for _, p := range ports {
		kpp.Spec.Ports = append(kpp.Spec.Ports, apiv1.VIF{ID: p.ID, NetworkID: p.NetworkID})
	}
	if err := w.Create(context.Background(), kpp); err != nil {
		t.Fatalf("creating KuryrPortPool %s: %v", node, err)
	}
}

func publishedIDs(ctx context.Context, w client.Client, node string) ([]string, bool) {
	var kpp apiv1.KuryrPortPool
	if err := w.Get(ctx, types.NamespacedName{Name: node}, &kpp); err != nil {
		return nil, false
	}
	var ids []string
	for _, v := range kpp.Spec.Ports {
		ids = append(ids, v.ID)
	}
	return ids, kpp.Spec.NodeName == node
}

func TestFreePortsArePublishedPerNode(t *testing.T) {
	h, w := newPublishingHarness(t)
	a := h.freePort()
	// A free port found ACTIVE that its node's KuryrPortPool lists is a port the node has
	// plugged ahead: still free.
	b := h.freePort(func(p *neutron.Port) { p.Status = neutron.PortStatusActive })
	park(t, w, node, b)
	other := h.freePort(func(p *neutron.Port) { p.HostID = "node-2" })
	h.start()
	h.eventually("both free ports of node-1 published", func() bool {
		ids, ok := publishedIDs(h.ctx, w, node)
		return ok && len(ids) == 2 && ids[0] != ids[1] && (ids[0] == a.ID || ids[0] == b.ID)
	})
	h.eventually("node-2 published", func() bool {
		ids, ok := publishedIDs(h.ctx, w, "node-2")
		return ok && len(ids) == 1 && ids[0] == other.ID
	})

	// A pod takes one: it leaves the published list.
	port, hit, err := h.m.Acquire(h.ctx, testKey, pod("web", "uid-1"))
	if err != nil || !hit {
		t.Fatalf("Acquire = %v, %v, %v", port, hit, err)
	}
	h.eventually("taken port unpublished", func() bool {
		ids, _ := publishedIDs(h.ctx, w, node)
		return len(ids) == 1 && ids[0] != port.ID
	})

	// The last free port is deleted outside: the next sync empties the node's list.
	var left string
	if ids, _ := publishedIDs(h.ctx, w, node); len(ids) == 1 {
		left = ids[0]
	}
	if err := h.os.DeletePort(h.ctx, left); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // the sync must start after the delete
	if _, err := h.m.sync(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.eventually("empty list published", func() bool {
		ids, ok := publishedIDs(h.ctx, w, node)
		return ok && len(ids) == 0
	})
}

// Without a writer (ports_pool_preplug off), a pool port that is not DOWN is not taken as
// free on recovery: it may still be plugged for the pod that gave it back.
func TestActivePortNotRecoveredWithoutPublishing(t *testing.T) {
	h := newHarness(t, 0, 0, 2)
	h.freePort(func(p *neutron.Port) { p.Status = neutron.PortStatusActive })
	h.start()
	if n := h.m.Free(testKey); n != 0 {
		t.Fatalf("free = %d, want 0", n)
	}
}

// The empty KuryrPortPool of a removed node is deleted; that of a node still there is kept.
func TestEmptyPoolOfRemovedNodeDeleted(t *testing.T) {
	gone := &apiv1.KuryrPortPool{Spec: apiv1.KuryrPortPoolSpec{NodeName: "gone"}}
	gone.Name = "gone"
	kept := &apiv1.KuryrPortPool{Spec: apiv1.KuryrPortPoolSpec{NodeName: "here"}}
	kept.Name = "here"
	nodeHere := &corev1.Node{}
	nodeHere.Name = "here"
	h, w := newPublishingHarness(t, gone, kept, nodeHere)
	// The controller still has a (now empty) pool of the removed node in memory.
	h.m.pool(NewKey("gone", "k8s", "net-1", []string{"sg-1"}))
	h.start()
	h.eventually("KuryrPortPool of the removed node deleted", func() bool {
		_, ok := publishedIDs(h.ctx, w, "gone")
		return !ok
	})
	if _, ok := publishedIDs(h.ctx, w, "here"); !ok {
		t.Fatal("KuryrPortPool of a node still in the cluster was deleted")
	}
}

// A free port its node has plugged ahead turns ACTIVE in Neutron; the next sync refreshes
// it, so the pod that takes it gets it as ACTIVE (its VIF recorded active at once).
func TestSyncRefreshesFreePorts(t *testing.T) {
	h, _ := newPublishingHarness(t)
	p := h.freePort()
	h.start()
	h.os.SetPortStatus(p.ID, neutron.PortStatusActive, "ovs")
	time.Sleep(2 * time.Millisecond) // the sync must start after the change
	if _, err := h.m.sync(h.ctx); err != nil {
		t.Fatal(err)
	}
	port, hit, err := h.m.Acquire(h.ctx, testKey, pod("web", "uid-1"))
	if err != nil || !hit || port.ID != p.ID {
		t.Fatalf("Acquire = %v, %v, %v", port, hit, err)
	}
	if port.Status != neutron.PortStatusActive {
		t.Fatalf("acquired port status %q, want the refreshed ACTIVE", port.Status)
	}
}
