package pool

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kuryr-go/kuryr-go/pkg/metrics"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// nodeSet holds the names of the cluster's nodes; nil when none are listed (a reader
// without nodes): then no node counts as removed.
type nodeSet map[string]bool

// gone reports whether node is known to be removed from the cluster.
func (n nodeSet) gone(node string) bool { return n != nil && !n[node] }

// nodes lists the cluster's nodes (names only, read from the cache without copies).
func (m *Manager) nodes(ctx context.Context) (nodeSet, error) {
	var list corev1.NodeList
	if err := m.o.Reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	out := make(nodeSet, len(list.Items))
	for i := range list.Items {
		out[list.Items[i].Name] = true
	}
	return out, nil
}

// prune forgets p, a pool of a removed node: its entry, its ports and its metric series.
// Its ports stay in Neutron for the orphan sweep, which deletes the pool ports of removed
// nodes. A pool being refilled is left for the next sync. It reports whether p went.
func (m *Manager) prune(p *pool) bool {
	p.mu.Lock()
	if p.refilling {
		p.mu.Unlock()
		return false
	}
	p.pruned = true
	m.pools.CompareAndDelete(p.key, p)
	ids := make([]string, 0, len(p.free)+len(p.recycling))
	for _, pt := range p.free {
		ids = append(ids, pt.ID)
	}
	for id := range p.recycling {
		ids = append(ids, id)
	}
	p.free, p.recycling = nil, map[string]neutron.Port{}
	p.mu.Unlock()
	for _, id := range ids {
		if v, ok := m.ports.Load(id); ok {
			if s := v.(*entry).state.Load(); s == stateFree || s == stateRecycling {
				m.ports.Delete(id)
			}
		}
	}
	metrics.PoolPorts.DeleteLabelValues(p.key.Node, p.key.NetworkID, p.key.SGs)
	m.o.Log.Info("Forgot the port pool of a removed node", "node", p.key.Node, "network", p.key.NetworkID, "ports", len(ids))
	return true
}
