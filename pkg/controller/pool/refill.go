package pool

import (
	"context"
	"time"

	"github.com/kuryr-go/kuryr-go/pkg/metrics"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// refillTimeout bounds one bulk create (20 ports take about 6 s on a busy Neutron).
const refillTimeout = 2 * time.Minute

// maybeRefill starts a background refill of p when it is one of the Spec's pools, below
// ports_pool_min, no refill of p is running and p is not backing off after a failure nor
// forgotten. It never blocks.
func (m *Manager) maybeRefill(p *pool) {
	ctx := m.background()
	if ctx == nil || ctx.Err() != nil || len(m.o.Spec.Subnets[p.key.NetworkID]) == 0 || !m.o.Spec.holds(p.key) {
		return
	}
	p.mu.Lock()
	size := len(p.free)
	n := max(m.o.Batch, m.o.Min-size)
	if m.o.Max > 0 {
		n = min(n, m.o.Max-size-len(p.recycling))
	}
	if p.refilling || p.pruned || size >= m.o.Min || n <= 0 || time.Now().Before(p.notBefore) {
		p.mu.Unlock()
		return
	}
	p.refilling = true
	p.mu.Unlock()
	go m.refill(ctx, p, n)
}

// refill creates n free ports for p in one bulk request. Failures are classified and back
// off; they are logged, never fatal.
func (m *Manager) refill(ctx context.Context, p *pool, n int) {
	log := m.o.Log.WithValues("node", p.key.Node, "network", p.key.NetworkID)
	m.settle(ctx, m.o.QuietPeriod)
	cctx, cancel := context.WithTimeout(ctx, refillTimeout)
	defer cancel()
	start := time.Now()
	ports, err := m.o.Neutron.CreatePorts(cctx, m.o.Spec.PoolPortOpts(p.key, n))
	p.mu.Lock()
	p.refilling = false
	if err != nil {
		p.failures++
		wait := m.backoff(err, p.failures)
		p.notBefore = time.Now().Add(wait)
		p.mu.Unlock()
		metrics.PoolRefills.WithLabelValues(string(openstack.ClassOf(err))).Inc()
		log.Info("Pool refill failed; backing off", "ports", n, "class", string(openstack.ClassOf(err)),
			"retryAfter", wait, "error", err.Error())
		return
	}
	p.failures, p.notBefore = 0, time.Time{}
	m.addCreatedLocked(p, ports)
	free := len(p.free)
	p.mu.Unlock()
	metrics.PoolRefills.WithLabelValues("success").Inc()
	m.gauge(p.key, free)
	m.poke()
	log.V(1).Info("Refilled pool", "ports", len(ports), "free", free, "duration", time.Since(start).Round(time.Millisecond))
	m.maybeRefill(p) // pods may have drained it while the request ran
}

// backoff is the pause after the n-th failed refill in a row: quota and a full subnet wait
// for an operator (QuotaRetry), terminal errors longer, transient ones grow from 1 s.
func (m *Manager) backoff(err error, n int) time.Duration {
	switch openstack.ClassOf(err) {
	case openstack.ClassOverQuota, openstack.ClassSubnetExhausted:
		return m.o.QuotaRetry
	case openstack.ClassTerminal:
		return 4 * m.o.QuotaRetry
	}
	d := time.Second << min(n-1, 6)
	return min(d, time.Minute)
}

// addCreatedLocked adds ports a refill created to p's free list (p.mu held). A sync that ran
// while the create was in flight may have listed them already and taken them in (and a pod
// may even hold one by now): only ports still unknown are added, so none is listed twice.
func (m *Manager) addCreatedLocked(p *pool, ports []neutron.Port) {
	for i := range ports {
		e := m.entry(ports[i].ID)
		if e.state.Load() != stateUnknown {
			continue
		}
		e.set(stateFree)
		p.free = append(p.free, ports[i])
	}
}
