package pool

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

type syncResult struct {
	pools, free, added, held, dropped, pruned int
}

// sync compares the pools with Neutron. From the cluster's pool ports on the Spec's networks
// in its project (tag-filtered lists), then the KuryrPorts, the KuryrPortPools and the
// nodes, it
//   - adds ports nobody knows (restart recovery, kuryrctl pools prefill): free if DOWN, or
//     if its node's KuryrPortPool lists it (plugged ahead); any other may still be plugged
//     for the pod that gave it back, and waits as recycling until it is DOWN,
//   - makes released ports free once they are DOWN (unplugged),
//   - drops free ports that are gone from Neutron, and refreshes the others (status),
//   - forgets the pools of nodes removed from the cluster, and takes in none of their ports,
//
// and then tops up every pool below ports_pool_min. A port whose state changed after the
// list was requested is left alone: the list may predate the change.
func (m *Manager) sync(ctx context.Context) (syncResult, error) {
	var res syncResult
	start := time.Now().UnixNano()
	ports, err := m.listPoolPorts(ctx)
	if err != nil {
		return res, err
	}
	var kps apiv1.KuryrPortList
	if err := m.o.Reader.List(ctx, &kps); err != nil {
		return res, fmt.Errorf("listing KuryrPorts: %w", err)
	}
	referenced := map[string]bool{}
	for i := range kps.Items {
		for _, id := range kps.Items[i].PortIDs() {
			referenced[id] = true
		}
	}
	parked := m.parkedPorts(ctx)
	nodes, err := m.nodes(ctx)
	if err != nil {
		return res, err
	}

	listed := map[string]*neutron.Port{}
	byKey := map[Key][]neutron.Port{}
	for i := range ports {
		pt := ports[i]
		listed[pt.ID] = &ports[i]
		if referenced[pt.ID] || pt.HostID == "" || nodes.gone(pt.HostID) {
			continue
		}
		byKey[KeyOf(&pt)] = append(byKey[KeyOf(&pt)], pt)
	}
	for key, candidates := range byKey {
		m.takeIn(m.pool(key), candidates, parked, start, &res)
	}
	m.pools.Range(func(_, v any) bool {
		p := v.(*pool)
		if nodes.gone(p.key.Node) {
			if m.prune(p) {
				res.pruned++
			}
			return true
		}
		p.mu.Lock()
		kept := p.free[:0]
		for _, pt := range p.free {
			e := m.entry(pt.ID)
			if e.changed.Load() >= start {
				kept = append(kept, pt)
				continue
			}
			if fresh, ok := listed[pt.ID]; ok && !referenced[pt.ID] {
				// Neutron's current view: a port its node has plugged ahead is now ACTIVE, so
				// the pod that takes it has its VIF recorded active at once.
				kept = append(kept, *fresh)
				continue
			}
			m.ports.Delete(pt.ID)
			res.dropped++
		}
		p.free = kept
		for id := range p.recycling {
			if listed[id] == nil && m.entry(id).changed.Load() < start {
				delete(p.recycling, id) // deleted outside, or taken over by a pod meanwhile
			}
		}
		free := len(p.free)
		p.mu.Unlock()
		res.pools++
		res.free += free
		m.gauge(p.key, free)
		m.maybeRefill(p)
		return true
	})
	m.poke()
	if res.added > 0 || res.held > 0 || res.dropped > 0 || res.pruned > 0 {
		m.o.Log.Info("Port pools synced with Neutron", "added", res.added, "waitingForDown", res.held,
			"dropped", res.dropped, "prunedPools", res.pruned, "freePorts", res.free)
	}
	return res, nil
}

// takeIn adds the listed pool ports of p's key that no KuryrPort references: new ones as
// free (or recycling while they may still be plugged), released ones as free once DOWN.
func (m *Manager) takeIn(p *pool, candidates []neutron.Port, parked map[string]string, start int64, res *syncResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range candidates {
		pt := candidates[i]
		e := m.entry(pt.ID)
		if e.changed.Load() >= start {
			continue
		}
		switch e.state.Load() {
		case stateUnknown:
			if pt.Status != neutron.PortStatusDown && parked[pt.ID] != pt.HostID {
				// Not plugged ahead by its node (not in its KuryrPortPool): it may still be
				// plugged for the pod that gave it back, before a restart. Free once DOWN.
				p.recycling[pt.ID] = pt
				e.set(stateRecycling)
				res.held++
				continue
			}
			p.free = append(p.free, pt)
			e.set(stateFree)
			res.added++
		case stateRecycling:
			if pt.Status != neutron.PortStatusDown {
				continue // the pod that gave it back is still plugged
			}
			delete(p.recycling, pt.ID)
			p.free = append(p.free, pt)
			e.set(stateFree)
		}
	}
}

// listPoolPorts lists the cluster's pool ports on each of the Spec's networks, in its
// project. A port with the cluster's tags in another project or network is someone else's
// (another cluster sharing the cluster ID) and is never listed.
func (m *Manager) listPoolPorts(ctx context.Context) ([]neutron.Port, error) {
	s := m.o.Spec
	if s.ProjectID == "" {
		return nil, errors.New("listing pool ports: the pools have no project to list them in")
	}
	var out []neutron.Port
	for _, network := range slices.Sorted(maps.Keys(s.Subnets)) {
		ports, err := m.o.Neutron.ListPorts(ctx, neutron.PortFilter{
			Tags:        []string{ownership.ClusterTag(s.ClusterID), ownership.PoolTag},
			DeviceOwner: neutron.DeviceOwnerKuryr,
			NetworkID:   network,
			ProjectID:   s.ProjectID,
		})
		if err != nil {
			return nil, fmt.Errorf("listing pool ports on network %s: %w", network, err)
		}
		for i := range ports {
			if s.holds(KeyOf(&ports[i])) {
				out = append(out, ports[i])
			}
		}
	}
	return out, nil
}

// parkedPorts returns the ports the KuryrPortPools list (port ID -> node): the ports the
// nodes plug ahead. Without a Writer nothing is published, so nothing is parked. A failed
// read counts as none parked: their ports then wait until DOWN, which is safe.
func (m *Manager) parkedPorts(ctx context.Context) map[string]string {
	if m.o.Writer == nil {
		return nil
	}
	var list apiv1.KuryrPortPoolList
	if err := m.o.Writer.List(ctx, &list); err != nil {
		m.o.Log.Info("Reading the KuryrPortPools failed; pool ports not DOWN wait until they are", "error", err.Error())
		return nil
	}
	out := map[string]string{}
	for i := range list.Items {
		for _, v := range list.Items[i].Spec.Ports {
			out[v.ID] = list.Items[i].Name
		}
	}
	return out
}
