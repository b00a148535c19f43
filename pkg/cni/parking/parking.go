// Package parking plugs a node's free pool ports before any pod asks for them. The
// controller lists them in the node's KuryrPortPool; this loop parks each one (see package
// plug) so that the OVS agent wires it while it waits, and unplugs the parked ports that
// left the pool without a pod taking them.
package parking

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug"
)

// Source is the node's view of the pools.
type Source interface {
	// Pool returns this node's KuryrPortPool: the free ports published for it in the spec,
	// what was last reported in the status. Nil when there is none. Read only.
	Pool(ctx context.Context) (*apiv1.KuryrPortPool, error)
	// PodPorts returns the IDs of the ports recorded for this node's pods.
	PodPorts(ctx context.Context) (map[string]bool, error)
	// Changed returns a channel closed at the next change.
	Changed() <-chan struct{}
	// SetPoolStatus reports the numbers of free and parked ports.
	SetPoolStatus(ctx context.Context, st apiv1.KuryrPortPoolStatus) error
}

// Parker does the network work (plug.Plugger).
type Parker interface {
	Park(ctx context.Context, vif *apiv1.VIF) error
	Unpark(ctx context.Context, vif *apiv1.VIF) error
	ListParked(ctx context.Context, lister plug.Lister) ([]plug.Parked, error)
}

// ReasonParkFailed is the Event reason of a free pool port that could not be plugged ahead.
const ReasonParkFailed = "ParkFailed"

// Manager keeps the node's free pool ports parked.
type Manager struct {
	Source Source
	Parker Parker
	Lister plug.Lister
	// Grace is how long a parked port that left the pool, with no pod recording it, stays
	// plugged: the pod that took it may not be visible yet.
	Grace time.Duration
	// Resync is how often the pool is compared even without a change.
	Resync time.Duration
	// Debounce collects a burst of changes into one pass.
	Debounce time.Duration
	// Workers is the number of ports parked in parallel.
	Workers int
	// RetryAfter is the pause before a port whose parking failed is tried again.
	RetryAfter time.Duration
	Metrics    *Metrics
	Log        logr.Logger
	// Event, if set, posts a Warning Event on the node's KuryrPortPool.
	Event func(reason, message string)

	parked    map[string]*parkedPort
	notBefore map[string]time.Time
}

type parkedPort struct {
	vif apiv1.VIF
	// handed is set once a pod's KuryrPort records the port: the pod's ADD takes the parked
	// interface, so when the port comes back to the pool it has to be parked anew.
	handed bool
	// gone is when the port was first seen out of the pool and not recorded for a pod.
	gone time.Time
}

func (m *Manager) defaults() {
	if m.Grace <= 0 {
		m.Grace = 30 * time.Second
	}
	if m.Resync <= 0 {
		m.Resync = 10 * time.Second
	}
	if m.Debounce <= 0 {
		m.Debounce = 250 * time.Millisecond
	}
	if m.Workers <= 0 {
		m.Workers = 4
	}
	if m.RetryAfter <= 0 {
		m.RetryAfter = 10 * time.Second
	}
	m.parked = map[string]*parkedPort{}
	m.notBefore = map[string]time.Time{}
}

// Run recovers the parked ports from OVS, then follows the pool until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	m.defaults()
	found, err := m.Parker.ListParked(ctx, m.Lister)
	if err != nil {
		return err
	}
	for _, p := range found {
		mode := apiv1.PlugModeNative
		if p.Hybrid {
			mode = apiv1.PlugModeHybrid
		}
		m.parked[p.PortID] = &parkedPort{vif: apiv1.VIF{ID: p.PortID, PlugMode: mode}}
	}
	m.Log.Info("Recovered parked pool ports", "ports", len(found))
	t := time.NewTicker(m.Resync)
	defer t.Stop()
	for {
		changed := m.Source.Changed()
		m.Pass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-changed:
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(m.Debounce):
			}
		}
	}
}

// Pass parks the free ports not parked yet and unparks those that left the pool.
func (m *Manager) Pass(ctx context.Context) {
	if m.parked == nil {
		m.defaults()
	}
	kpp, err := m.Source.Pool(ctx)
	if err != nil {
		m.Log.Error(err, "Reading the node's free pool ports failed")
		return
	}
	var free []apiv1.VIF
	if kpp != nil {
		free = kpp.Spec.Ports
	}
	pods, err := m.Source.PodPorts(ctx)
	if err != nil {
		m.Log.Error(err, "Reading the node's pod ports failed")
		return
	}
	now := time.Now()
	want := make(map[string]bool, len(free))
	var todo []apiv1.VIF
	for _, v := range free {
		want[v.ID] = true
		if p := m.parked[v.ID]; p != nil && !p.handed {
			p.vif, p.gone = v, time.Time{}
			continue
		}
		if pods[v.ID] || now.Before(m.notBefore[v.ID]) {
			continue
		}
		todo = append(todo, v)
	}
	m.park(ctx, todo)
	for id, p := range m.parked {
		switch {
		case want[id]:
			continue
		case pods[id]:
			// Taken by a pod: its CNI ADD moves the interface in.
			p.handed, p.gone = true, now
			continue
		case p.gone.IsZero():
			// Just left the pool: its pod may not be recorded yet.
			p.gone = now
			continue
		case now.Sub(p.gone) < m.Grace:
			continue
		}
		if err := m.Parker.Unpark(ctx, &p.vif); err != nil {
			m.Log.Error(err, "Unplugging a parked port that left the pool failed", "port", id)
			m.Metrics.op("unpark", "error")
			continue
		}
		m.Log.V(1).Info("Parked port left the pool; unplugged unless a pod took it", "port", id)
		m.Metrics.op("unpark", "success")
		delete(m.parked, id)
	}
	for id, t := range m.notBefore {
		if !want[id] || now.After(t) {
			delete(m.notBefore, id)
		}
	}
	plugged := 0
	for id, p := range m.parked {
		if want[id] && !p.handed {
			plugged++
		}
	}
	m.Metrics.setParked(plugged)
	// The status is compared with the object as read, so a report lost in a race with the
	// object's re-creation is made again.
	if st := (apiv1.KuryrPortPoolStatus{Free: len(free), Plugged: plugged}); kpp != nil && kpp.Status != st {
		if err := m.Source.SetPoolStatus(ctx, st); err != nil {
			m.Log.Error(err, "Reporting the parked ports failed")
		}
	}
}

// park parks vifs, Workers at a time.
func (m *Manager) park(ctx context.Context, vifs []apiv1.VIF) {
	if len(vifs) == 0 {
		return
	}
	start := time.Now()
	var mu sync.Mutex
	sem := make(chan struct{}, m.Workers)
	var wg sync.WaitGroup
	ok := 0
	for i := range vifs {
		v := vifs[i]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := m.Parker.Park(ctx, &v)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				m.parked[v.ID] = &parkedPort{vif: v}
				m.Metrics.op("park", "success")
				ok++
			case errors.Is(err, plug.ErrInUse):
				// Its previous pod is still plugged; the next pass tries again.
				m.notBefore[v.ID] = time.Now().Add(m.RetryAfter / 4)
				m.Metrics.op("park", "in_use")
			default:
				m.notBefore[v.ID] = time.Now().Add(m.RetryAfter)
				m.Metrics.op("park", "error")
				m.Log.Error(err, "Parking a free pool port failed; retrying later", "port", v.ID, "retryAfter", m.RetryAfter)
				if m.Event != nil {
					m.Event(ReasonParkFailed, fmt.Sprintf("Plugging free pool port %s ahead failed (retrying in %s): %v", v.ID, m.RetryAfter, err))
				}
			}
		}()
	}
	wg.Wait()
	m.Log.Info("Parked free pool ports", "ports", ok, "of", len(vifs), "duration", time.Since(start).Round(time.Millisecond).String())
}

// Metrics are the parking metrics; a nil *Metrics records nothing.
type Metrics struct {
	parked prometheus.Gauge
	ops    *prometheus.CounterVec
}

// NewMetrics registers the parking metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		parked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kuryr_daemon_parked_ports", Help: "Free pool ports plugged ahead of their pods on this node."}),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kuryr_daemon_park_operations_total", Help: "Parking and unparking of free pool ports, by result."},
			[]string{"op", "result"}),
	}
	reg.MustRegister(m.parked, m.ops)
	return m
}

func (m *Metrics) op(op, result string) {
	if m != nil {
		m.ops.WithLabelValues(op, result).Inc()
	}
}

func (m *Metrics) setParked(n int) {
	if m != nil {
		m.parked.Set(float64(n))
	}
}
