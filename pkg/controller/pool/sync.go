package pool

import (
	"context"
	"fmt"
	"time"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

type syncResult struct {
	pools, free, added, dropped int
}

// sync compares the pools with Neutron. From one tag-filtered list of the cluster's pool
// ports and the KuryrPorts (read after it), it
//   - adds free ports nobody knows (restart recovery, kuryrctl pools prefill),
//   - makes released ports free once they are DOWN (unplugged),
//   - drops free ports that are gone from Neutron, and refreshes the others (status),
//
// and then tops up every pool below ports_pool_min. A port whose state changed after the
// list was requested is left alone: the list may predate the change.
func (m *Manager) sync(ctx context.Context) (syncResult, error) {
	var res syncResult
	start := time.Now().UnixNano()
	ports, err := m.o.Neutron.ListPorts(ctx, neutron.PortFilter{
		Tags:        []string{ownership.ClusterTag(m.o.Spec.ClusterID), ownership.PoolTag},
		DeviceOwner: neutron.DeviceOwnerKuryr,
	})
	if err != nil {
		return res, fmt.Errorf("listing pool ports: %w", err)
	}
	var kps apiv1.KuryrPortList
	if err := m.o.Reader.List(ctx, &kps); err != nil {
		return res, fmt.Errorf("listing KuryrPorts: %w", err)
	}
	referenced := map[string]bool{}
	for i := range kps.Items {
		for _, v := range kps.Items[i].Status.VIFs {
			referenced[v.VIF.ID] = true
		}
	}

	listed := map[string]*neutron.Port{}
	byKey := map[Key][]neutron.Port{}
	for i := range ports {
		pt := ports[i]
		listed[pt.ID] = &ports[i]
		if referenced[pt.ID] || pt.HostID == "" {
			continue
		}
		byKey[KeyOf(&pt)] = append(byKey[KeyOf(&pt)], pt)
	}
	for key, candidates := range byKey {
		p := m.pool(key)
		p.mu.Lock()
		for i := range candidates {
			pt := candidates[i]
			e := m.entry(pt.ID)
			if e.changed.Load() >= start {
				continue
			}
			switch e.state.Load() {
			case stateUnknown:
				// A published pool keeps its free ports plugged (ACTIVE); otherwise a
				// port that is not DOWN may still be plugged for the pod that gave it back.
				if pt.Status != neutron.PortStatusDown && m.o.Writer == nil {
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
		p.mu.Unlock()
	}
	m.pools.Range(func(_, v any) bool {
		p := v.(*pool)
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
	if res.added > 0 || res.dropped > 0 {
		m.o.Log.Info("Port pools synced with Neutron", "added", res.added, "dropped", res.dropped, "freePorts", res.free)
	}
	return res, nil
}
