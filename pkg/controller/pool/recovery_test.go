package pool

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kuryr-go/kuryr-go/pkg/metrics"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

func nodeObject(name string) *corev1.Node {
	n := &corev1.Node{}
	n.Name = name
	return n
}

// poolPortSeries counts the kuryr_pool_ports series.
func poolPortSeries() int {
	ch := make(chan prometheus.Metric)
	go func() {
		metrics.PoolPorts.Collect(ch)
		close(ch)
	}()
	n := 0
	for range ch {
		n++
	}
	return n
}

// After a restart or a leader handover, a pool port found ACTIVE is free only if its node's
// KuryrPortPool lists it (the node plugged it ahead). Any other may still be plugged in the
// terminating pod that gave it back: it is handed out only once Neutron reports it DOWN.
func TestRestartFreesActivePortOnlyIfItsNodeParkedIt(t *testing.T) {
	h, w := newPublishingHarness(t)
	parked := h.freePort(func(p *neutron.Port) { p.Status = neutron.PortStatusActive })
	recycled := h.freePort(func(p *neutron.Port) { p.Status = neutron.PortStatusActive })
	// Listed for another node: that node's daemon cannot have plugged it.
	elsewhere := h.freePort(func(p *neutron.Port) { p.Status = neutron.PortStatusActive })
	park(t, w, node, parked)
	park(t, w, "node-2", elsewhere)
	h.start()
	if n := h.m.Free(testKey); n != 1 {
		t.Fatalf("free = %d, want only the parked port %s", n, parked.ID)
	}
	for range 3 {
		port, hit, err := h.m.Acquire(h.ctx, testKey, pod("new", "uid-new"))
		if err != nil {
			t.Fatal(err)
		}
		if hit && port.ID != parked.ID {
			t.Fatalf("port %s, still ACTIVE and not parked, handed to a new pod after a restart", port.ID)
		}
	}

	// Unplugged from the pod that gave it back: free at the next sync.
	h.os.SetPortStatus(recycled.ID, neutron.PortStatusDown, "")
	if _, err := h.m.sync(h.ctx); err != nil {
		t.Fatal(err)
	}
	if port, hit, err := h.m.Acquire(h.ctx, testKey, pod("new2", "uid-new2")); err != nil || !hit || port.ID != recycled.ID {
		t.Fatalf("Acquire = %v, hit %v, %v; want %s once DOWN", port, hit, err, recycled.ID)
	}
}

// A pool port kept until DOWN that a KuryrPort then records for a pod is the pod's: binding
// it takes it out of its pool, so it never turns free under the pod.
func TestBindTakesAPortKeptUntilDownOutOfItsPool(t *testing.T) {
	h := newHarness(t, 0, 0, 1)
	active := h.freePort(func(p *neutron.Port) { p.Status = neutron.PortStatusActive })
	h.start()
	h.m.Bind(&neutron.Port{ID: active.ID}, pod("web", "uid-1"))
	h.eventually("port bound to the pod", func() bool { return h.port(active.ID).DeviceID == "uid-1" })
	p := h.m.pool(testKey)
	p.mu.Lock()
	_, kept := p.recycling[active.ID]
	p.mu.Unlock()
	if kept {
		t.Fatalf("port %s bound to a pod is still waiting in its pool", active.ID)
	}
}

// Pool ports carrying the cluster's tags in another project or on another network belong
// to someone else (another cluster sharing the cluster ID): never taken in, never handed out.
func TestSyncTakesInOnlyThePoolsProjectAndNetworks(t *testing.T) {
	h := newHarness(t, 0, 0, 1)
	ours := h.freePort()
	otherProject := h.freePort(func(p *neutron.Port) { p.ProjectID = "proj-2" })
	otherNetwork := h.freePort(func(p *neutron.Port) { p.NetworkID = "net-2" })
	h.start()
	if _, err := h.m.sync(h.ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []neutron.Port{otherProject, otherNetwork} {
		if n := h.m.Free(KeyOf(&p)); n != 0 {
			t.Errorf("port %s of project %s, network %s taken into a pool (free = %d)", p.ID, p.ProjectID, p.NetworkID, n)
		}
		if _, hit, err := h.m.Acquire(h.ctx, KeyOf(&p), pod("x", "uid-x")); err != nil || hit {
			t.Errorf("Acquire on %s's pool: hit %v, %v; want a miss", p.ID, hit, err)
		}
	}
	if port, hit, err := h.m.Acquire(h.ctx, testKey, pod("web", "uid-1")); err != nil || !hit || port.ID != ours.ID {
		t.Errorf("Acquire = %v, hit %v, %v; want %s", port, hit, err, ours.ID)
	}
}

// A port given back to a pool outside the pools' project and networks is deleted: no sync
// lists it, so it would never be free again.
func TestReleaseOutsideThePoolsProjectDeletes(t *testing.T) {
	h := newHarness(t, 0, 0, 1)
	used := h.os.AddPort(neutron.Port{Name: "web", ProjectID: "proj-2", NetworkID: "net-1", HostID: node,
		DeviceID: "uid-1", DeviceOwner: neutron.DeviceOwnerKuryr})
	h.start()
	if err := h.m.Release(h.ctx, &neutron.Port{ID: used.ID}, KeyOf(&used)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.os.GetPort(h.ctx, used.ID); !openstack.IsNotFound(err) {
		t.Fatalf("port given back to a pool of another project kept: %v", err)
	}
}

// The pools of a node removed from the cluster are forgotten with their metric series, and
// its ports (left for the orphan sweep) are not taken in again.
func TestSyncForgetsPoolsOfRemovedNodes(t *testing.T) {
	const removed = "node-removed"
	h := newHarness(t, 0, 0, 1, nodeObject(node), nodeObject(removed))
	h.freePort()
	gonePort := h.freePort(func(p *neutron.Port) { p.HostID = removed })
	goneKey := KeyOf(&gonePort)
	h.start()
	if h.m.Free(goneKey) != 1 || h.m.Free(testKey) != 1 {
		t.Fatalf("free = %d on %s, %d on %s; want 1 each", h.m.Free(goneKey), removed, h.m.Free(testKey), node)
	}
	series := poolPortSeries()
	if err := h.m.o.Reader.(client.Client).Delete(context.Background(), nodeObject(removed)); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the port is still in Neutron: the second sync must not bring the pool back
		if _, err := h.m.sync(h.ctx); err != nil {
			t.Fatal(err)
		}
	}
	h.m.pools.Range(func(k, _ any) bool {
		if k.(Key).Node == removed {
			t.Errorf("pool %+v of the removed node still kept", k)
		}
		return true
	})
	if _, ok := h.m.ports.Load(gonePort.ID); ok {
		t.Errorf("port %s of the removed node still known", gonePort.ID)
	}
	if n := poolPortSeries(); n != series-1 {
		t.Errorf("kuryr_pool_ports series = %d, want %d (the removed node's gone)", n, series-1)
	}
	if metrics.PoolPorts.DeleteLabelValues(removed, goneKey.NetworkID, goneKey.SGs) {
		t.Errorf("kuryr_pool_ports{node=%q} still exported", removed)
	}
	if h.m.Free(testKey) != 1 {
		t.Errorf("free on %s = %d, want its pool kept", node, h.m.Free(testKey))
	}
}
