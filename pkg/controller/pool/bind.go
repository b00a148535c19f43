package pool

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

const (
	bindTimeout     = 30 * time.Second
	maxBindAttempts = 8
)

type bindRequest struct {
	portID, podName, podUID string
	attempt                 int
}

// Bind gives a port taken from a pool the pod's identity in the background: name = pod
// name, device_id = pod UID, tags = cluster + pod-uid (the pool tag goes). Call it only
// after the port is recorded in the pod's KuryrPort: until the update lands, the recorded
// ID is what ties the port to the pod. Calling it again for the same port is harmless.
func (m *Manager) Bind(port *neutron.Port, pod *corev1.Pod) {
	uid := string(pod.UID)
	e := m.entry(port.ID)
	switch e.state.Load() {
	case stateRecycling:
		if e.podUID.Load() != nil {
			return // the pod gave it back already
		}
		// Found not DOWN at a sync and kept until it is, yet recorded for a pod: the pod's.
		m.unpool(port.ID)
		e.podUID.Store(&uid)
		e.set(stateTaken)
	case stateBound:
		if u := e.podUID.Load(); u != nil && *u == uid {
			return
		}
		e.podUID.Store(&uid)
		e.set(stateTaken)
	case stateFree:
		// Recorded for a pod but still listed as free (should not happen): take it out.
		m.unpool(port.ID)
		e.podUID.Store(&uid)
		e.set(stateTaken)
	case stateUnknown: // taken before a restart; the KuryrPort status says whose it is
		e.podUID.Store(&uid)
		e.set(stateTaken)
	}
	if !e.queued.CompareAndSwap(false, true) {
		return
	}
	m.enqueueBind(e, bindRequest{portID: port.ID, podName: pod.Name, podUID: uid})
}

func (m *Manager) enqueueBind(e *entry, req bindRequest) {
	select {
	case m.bindQ <- req:
	default: // full: the pod's next reconcile asks again
		e.queued.Store(false)
	}
}

// unpool removes a port from whatever free list or recycling set holds it.
func (m *Manager) unpool(id string) {
	m.pools.Range(func(_, v any) bool {
		p := v.(*pool)
		p.mu.Lock()
		defer p.mu.Unlock()
		if _, ok := p.recycling[id]; ok {
			delete(p.recycling, id)
			return false
		}
		for i := range p.free {
			if p.free[i].ID == id {
				p.free = append(p.free[:i], p.free[i+1:]...)
				m.poke()
				return false
			}
		}
		return true
	})
}

func (m *Manager) bindLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-m.bindQ:
			m.settle(ctx, max(m.o.QuietPeriod, m.o.LongQuietPeriod)) // renames can wait for the end of a burst
			m.bind(ctx, req)
		}
	}
}

// bind does one background update; failures are retried with back-off a few times, then
// left to the pod's next reconcile.
func (m *Manager) bind(ctx context.Context, req bindRequest) {
	e := m.entry(req.portID)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queued.Store(false)
	if u := e.podUID.Load(); e.state.Load() != stateTaken || u == nil || *u != req.podUID {
		return // released, or given to another pod meanwhile
	}
	log := m.o.Log.WithValues("portID", req.portID, "podUID", req.podUID)
	cctx, cancel := context.WithTimeout(ctx, bindTimeout)
	defer cancel()
	name, deviceID := req.podName, req.podUID
	_, err := m.o.Neutron.UpdatePort(cctx, req.portID, neutron.PortUpdateOpts{Name: &name, DeviceID: &deviceID})
	if err == nil {
		err = m.o.Neutron.ReplacePortTags(cctx, req.portID, ownership.PortTags(m.o.Spec.ClusterID, req.podUID, m.o.Spec.ResourceTags))
	}
	switch {
	case err == nil:
		e.set(stateBound)
		log.V(1).Info("Pool port now carries the pod's identity", "name", name)
	case openstack.IsNotFound(err):
		m.ports.Delete(req.portID)
	case ctx.Err() != nil:
	default:
		req.attempt++
		if req.attempt >= maxBindAttempts {
			log.Info("Giving up updating a pool port for its pod; the pod's next reconcile retries", "error", err.Error())
			return
		}
		wait := time.Duration(req.attempt) * time.Second
		log.Info("Updating a pool port for its pod failed; retrying", "retryAfter", wait, "error", err.Error())
		e.queued.Store(true)
		time.AfterFunc(wait, func() {
			if ctx.Err() == nil {
				m.enqueueBind(e, req)
			}
		})
	}
}
