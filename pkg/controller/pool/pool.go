// Package pool keeps pools of ready Neutron ports per node ([kubernetes] vif_pool_driver =
// neutron), so a pod gets a port without waiting for a port create.
//
// A free pool port is bound to its node, owned by compute:kuryr, named kuryr-pool-port and
// tagged with the cluster and pool tags. A pod takes one (Acquire); its VIF is recorded in
// the KuryrPort first, then the port gets the pod's name, device_id and pod-uid tag in the
// background (Bind), so the daemon can plug at once. An empty pool does not make the pod
// wait: a port is created for it directly and the pool is refilled in the background with
// one bulk request. A released port is reset and tagged free again (Release), or deleted
// when its pool is full.
//
// Neutron is the record: at start (and every ports_pool_update_frequency) the pools are
// rebuilt from the ports of the Spec's project and networks carrying the cluster and pool
// tags that no KuryrPort references, so nothing is lost in a crash, whatever the step it
// happened in. Such a port is free when Neutron reports it DOWN; one that is not DOWN may
// still be plugged for the pod that gave it back, and is free only if its node's
// KuryrPortPool lists it (plugged ahead).
//
// With Options.Writer the free ports of each node are also published in its KuryrPortPool:
// the node daemon plugs them ahead (the OVS agent wires them while they wait), and a pod
// that takes one finds it ready. The pools of a node removed from the cluster are
// forgotten.
package pool

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/metrics"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

// Options configure a Manager.
type Options struct {
	Neutron neutron.Client
	// Reader lists KuryrPorts and Nodes (normally the manager's cache).
	Reader client.Reader
	// WaitForCache blocks until Reader has synced; may be nil.
	WaitForCache func(context.Context) bool
	Spec         Spec
	// Min, Max, Batch and SyncPeriod are the [vif_pool] options.
	Min, Max, Batch int
	SyncPeriod      time.Duration
	// QuotaRetry is the back-off of a refill after OverQuota or a full subnet.
	QuotaRetry time.Duration
	// BindWorkers is the number of background name/device_id updates in parallel.
	BindWorkers int
	// QuietPeriod defers refills and renames until no pod has taken a port for this long
	// (a burst is over), at most MaxDefer: during a burst neutron-server is needed for the
	// OVS agent's calls that wire the pods. Zero disables the deferral.
	QuietPeriod, MaxDefer time.Duration
	// LongQuietPeriod, when longer, is the QuietPeriod of the work that can wait until the
	// burst's pods have started: the renames (each also makes the OVS agent process the port
	// again) and the periodic sync (it lists every pool port). Refills do not wait for it:
	// a pod taking a port starts them.
	LongQuietPeriod time.Duration
	// Writer, when set, publishes each node's free ports in its KuryrPortPool so that the
	// node daemon plugs them ahead of the pods ([vif_pool] ports_pool_preplug). Free ports
	// are then ACTIVE in Neutron, not DOWN.
	Writer client.Client
	// VIFOf turns a free port into the VIF the daemon plugs; false leaves it out.
	VIFOf func(*neutron.Port) (apiv1.VIF, bool)
	// PublishInterval is the least time between two writes of the KuryrPortPools.
	PublishInterval time.Duration
	Log             logr.Logger
}

// Manager is the neutron pool driver. It is a manager Runnable: pools run on the leader only.
type Manager struct {
	o     Options
	pools sync.Map // Key -> *pool
	ports sync.Map // port ID -> *entry
	ready chan struct{}
	// runCtx is the context of Start; background work (refills, binds) lives in it.
	runCtx atomic.Pointer[context.Context]
	bindQ  chan bindRequest
	// lastAcquire is when a pod last took a port (Unix nanoseconds).
	lastAcquire atomic.Int64
	// publishQ wakes the KuryrPortPool publisher.
	publishQ chan struct{}
}

// settle waits until no pod has taken a port for quiet, or MaxDefer has passed, or ctx
// ends.
func (m *Manager) settle(ctx context.Context, quiet time.Duration) {
	if quiet <= 0 {
		return
	}
	deadline := time.Now().Add(m.o.MaxDefer)
	for {
		since := time.Since(time.Unix(0, m.lastAcquire.Load()))
		if since >= quiet || !time.Now().Before(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(quiet-since, time.Until(deadline))):
		}
	}
}

// Port states kept in memory; Neutron's tags are the durable record.
const (
	stateUnknown   int32 = iota
	stateFree            // in a pool's free list
	stateTaken           // handed to a pod, the pod's name/device_id not yet set
	stateBound           // carries the pod's name, device_id and tags
	stateRecycling       // given back, waits for Neutron to report it DOWN
)

// entry is what the manager knows about one port. mu serialises the Neutron updates of
// the port (bind and release); state and changed are read without it.
type entry struct {
	mu      sync.Mutex
	state   atomic.Int32
	changed atomic.Int64 // unix nanoseconds of the last state change
	podUID  atomic.Pointer[string]
	queued  atomic.Bool
}

func (e *entry) set(state int32) {
	e.state.Store(state)
	e.changed.Store(time.Now().UnixNano())
}

// pool is one key's free ports.
type pool struct {
	key       Key
	mu        sync.Mutex
	free      []neutron.Port
	recycling map[string]neutron.Port
	refilling bool
	notBefore time.Time
	failures  int
	// pruned is set once the pool is forgotten (its node was removed): it is never
	// refilled again.
	pruned bool
}

// New returns a Manager; call Start (or add it to a controller manager) to run it.
func New(o Options) *Manager {
	if o.Batch < 1 {
		o.Batch = 1
	}
	if o.SyncPeriod <= 0 {
		o.SyncPeriod = 20 * time.Second
	}
	if o.QuotaRetry <= 0 {
		o.QuotaRetry = 30 * time.Second
	}
	if o.BindWorkers <= 0 {
		o.BindWorkers = 2
	}
	if o.VIFOf == nil {
		o.VIFOf = portVIF
	}
	if o.PublishInterval <= 0 {
		o.PublishInterval = 500 * time.Millisecond
	}
	return &Manager{o: o, ready: make(chan struct{}), bindQ: make(chan bindRequest, 4096), publishQ: make(chan struct{}, 1)}
}

// ReadyCheck fails until the pools have been recovered from Neutron (readiness probe).
func (m *Manager) ReadyCheck(*http.Request) error {
	select {
	case <-m.ready:
		return nil
	default:
		return errors.New("port pools are not recovered yet")
	}
}

func (m *Manager) pool(key Key) *pool {
	if p, ok := m.pools.Load(key); ok {
		return p.(*pool)
	}
	p, _ := m.pools.LoadOrStore(key, &pool{key: key, recycling: map[string]neutron.Port{}})
	return p.(*pool)
}

func (m *Manager) entry(id string) *entry {
	if e, ok := m.ports.Load(id); ok {
		return e.(*entry)
	}
	e, _ := m.ports.LoadOrStore(id, &entry{})
	return e.(*entry)
}

// Acquire returns a port for pod from key's pool (hit), or a port created for the pod
// right away when the pool is empty (miss). Either way the pool is refilled in the
// background when it is below ports_pool_min. A hit still carries the pool's name and
// tags: record it, then call Bind. It waits for the pools to be recovered.
func (m *Manager) Acquire(ctx context.Context, key Key, pod *corev1.Pod) (*neutron.Port, bool, error) {
	select {
	case <-m.ready:
	case <-ctx.Done():
		return nil, false, fmt.Errorf("waiting for the port pools: %w", ctx.Err())
	}
	m.lastAcquire.Store(time.Now().UnixNano())
	uid := string(pod.UID)
	p := m.pool(key)
	var port *neutron.Port
	p.mu.Lock()
	if len(p.free) > 0 {
		taken := p.free[0]
		p.free = p.free[1:]
		port = &taken
		e := m.entry(port.ID)
		e.podUID.Store(&uid)
		e.set(stateTaken)
	}
	free := len(p.free)
	p.mu.Unlock()
	m.gauge(key, free)
	m.maybeRefill(p)
	if port != nil {
		m.poke()
		metrics.PoolRequests.WithLabelValues("hit").Inc()
		return port, true, nil
	}
	metrics.PoolRequests.WithLabelValues("miss").Inc()
	created, err := m.o.Neutron.CreatePort(ctx, m.o.Spec.PodPortOpts(key, pod.Name, uid))
	if err != nil {
		return nil, false, fmt.Errorf("creating a port for the pod (pool %s empty): %w", key.Node, err)
	}
	e := m.entry(created.ID)
	e.podUID.Store(&uid)
	e.set(stateBound)
	return created, false, nil
}

// Release gives a pod's port back to key's pool: security groups reset to the pool's,
// name kuryr-pool-port, device_id cleared, pod-uid tag replaced by the pool tag. If the
// pool already holds ports_pool_max ports, or key is not one of the Spec's pools, the port
// is deleted instead. A port that is gone counts as released. It becomes free once Neutron
// reports it DOWN (next sync).
func (m *Manager) Release(ctx context.Context, port *neutron.Port, key Key) error {
	e := m.entry(port.ID)
	e.mu.Lock()
	defer e.mu.Unlock()
	p := m.pool(key)
	p.mu.Lock()
	if _, ok := p.recycling[port.ID]; ok && e.state.Load() == stateRecycling {
		p.mu.Unlock()
		return nil // released already
	}
	var drop string // why the port is deleted rather than kept
	switch {
	case !m.o.Spec.holds(key):
		drop = "not in the pools' project and networks" // no sync would ever free it
	case m.o.Max > 0 && len(p.free)+len(p.recycling) >= m.o.Max:
		drop = "pool full"
	default:
		p.recycling[port.ID] = neutron.Port{ID: port.ID} // reserve the place
	}
	p.mu.Unlock()

	if drop != "" {
		if err := m.o.Neutron.DeletePort(ctx, port.ID); err != nil {
			return fmt.Errorf("deleting port %s (pool %s: %s): %w", port.ID, key.Node, drop, err)
		}
		m.ports.Delete(port.ID)
		m.o.Log.V(1).Info("Deleted released port", "reason", drop, "portID", port.ID, "node", key.Node)
		return nil
	}
	updated, err := m.reset(ctx, port.ID, key)
	p.mu.Lock()
	if err != nil || updated == nil {
		delete(p.recycling, port.ID)
	} else {
		p.recycling[port.ID] = *updated
	}
	p.mu.Unlock()
	switch {
	case err != nil:
		return err
	case updated == nil:
		m.ports.Delete(port.ID)
		return nil
	}
	e.set(stateRecycling)
	m.o.Log.V(1).Info("Returned port to its pool", "portID", port.ID, "node", key.Node)
	return nil
}

// reset turns a pod port back into a free pool port; nil and no error if it is gone.
func (m *Manager) reset(ctx context.Context, id string, key Key) (*neutron.Port, error) {
	name, deviceID, sgs := ownership.PoolPortName, "", key.SecurityGroups()
	updated, err := m.o.Neutron.UpdatePort(ctx, id, neutron.PortUpdateOpts{Name: &name, DeviceID: &deviceID, SecurityGroups: &sgs})
	if openstack.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resetting port %s for its pool: %w", id, err)
	}
	tags := ownership.PoolPortTags(m.o.Spec.ClusterID, m.o.Spec.ResourceTags)
	if err := m.o.Neutron.ReplacePortTags(ctx, id, tags); err != nil {
		if openstack.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("tagging port %s as free: %w", id, err)
	}
	updated.Tags = tags
	return updated, nil
}

func (m *Manager) gauge(key Key, free int) {
	metrics.PoolPorts.WithLabelValues(key.Node, key.NetworkID, key.SGs).Set(float64(free))
}

// Free returns the number of free ports in key's pool.
func (m *Manager) Free(key Key) int {
	p, ok := m.pools.Load(key)
	if !ok {
		return 0
	}
	pl := p.(*pool)
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return len(pl.free)
}

// Start recovers the pools from Neutron (retrying until it succeeds), opens the gate for
// Acquire and readiness, then syncs every SyncPeriod until ctx ends.
func (m *Manager) Start(ctx context.Context) error {
	m.runCtx.Store(&ctx)
	if m.o.WaitForCache != nil && !m.o.WaitForCache(ctx) {
		return nil
	}
	for range m.o.BindWorkers {
		go m.bindLoop(ctx)
	}
	delay := time.Second
	for {
		res, err := m.sync(ctx)
		if err == nil {
			m.o.Log.Info("Recovered port pools", "pools", res.pools, "freePorts", res.free)
			break
		}
		m.o.Log.Error(err, "Recovering port pools failed; retrying", "retryAfter", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
	close(m.ready)
	if m.o.Writer != nil {
		go m.publishLoop(ctx)
		m.poke()
	}
	t := time.NewTicker(m.o.SyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		m.settle(ctx, max(m.o.QuietPeriod, m.o.LongQuietPeriod)) // not while a burst starts
		if _, err := m.sync(ctx); err != nil {
			m.o.Log.Error(err, "Port pool sync failed")
		}
	}
}

func (m *Manager) background() context.Context {
	if c := m.runCtx.Load(); c != nil {
		return *c
	}
	return nil
}
