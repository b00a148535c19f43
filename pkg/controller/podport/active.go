package podport

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// activeBatch bounds the port IDs of one list request (the URL stays a few KiB).
const activeBatch = 80

// ActiveWatch finds out when ports become ACTIVE with one list request per interval for all
// the ports that wait, instead of one GET per port: during a burst of pods that is what
// keeps the controller from competing with the creates (and with the OVS agent's own calls)
// for neutron-server. It enqueues the pod of each port Neutron reports ACTIVE.
type ActiveWatch struct {
	Neutron  neutron.Client
	Interval time.Duration
	Log      logr.Logger

	mu      sync.Mutex
	pending map[string]types.NamespacedName // port ID -> pod
	// seen holds the ports the last polls found ACTIVE, for the reconcile they trigger.
	seen   map[string]seenPort
	events chan event.GenericEvent
	once   sync.Once
}

func (w *ActiveWatch) init() {
	w.once.Do(func() {
		w.pending = map[string]types.NamespacedName{}
		w.seen = map[string]seenPort{}
		w.events = make(chan event.GenericEvent, 1024)
	})
}

// Events is the source of the pods to reconcile.
func (w *ActiveWatch) Events() <-chan event.GenericEvent {
	w.init()
	return w.events
}

// Wait registers a port that is not ACTIVE yet.
func (w *ActiveWatch) Wait(portID string, pod types.NamespacedName) {
	w.init()
	w.mu.Lock()
	w.pending[portID] = pod
	w.mu.Unlock()
}

// Done forgets a port (ACTIVE, released or replaced).
func (w *ActiveWatch) Done(portID string) {
	w.init()
	w.mu.Lock()
	delete(w.pending, portID)
	delete(w.seen, portID)
	w.mu.Unlock()
}

// Pending returns the number of ports waiting.
func (w *ActiveWatch) Pending() int {
	w.init()
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// Start polls until ctx ends (a manager Runnable; it runs on the leader only).
func (w *ActiveWatch) Start(ctx context.Context) error {
	w.init()
	interval := w.Interval
	if interval <= 0 {
		interval = DefaultTiming.ActivePoll
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		w.PollOnce(ctx)
	}
}

// PollOnce lists the waiting ports that are ACTIVE now and enqueues their pods.
func (w *ActiveWatch) PollOnce(ctx context.Context) {
	w.init()
	w.mu.Lock()
	ids := make([]string, 0, len(w.pending))
	for id := range w.pending {
		ids = append(ids, id)
	}
	w.mu.Unlock()
	slices.Sort(ids)
	for batch := range slices.Chunk(ids, activeBatch) {
		ports, err := w.Neutron.ListPorts(ctx, neutron.PortFilter{IDs: batch, Status: neutron.PortStatusActive})
		if err != nil {
			// the reconciler's own slower poll still covers these ports
			w.Log.V(1).Info("Listing waiting ports failed", "error", err.Error(), "ports", len(batch))
			continue
		}
		for i, p := range ports {
			w.mu.Lock()
			pod, ok := w.pending[p.ID]
			delete(w.pending, p.ID)
			if ok {
				w.seen[p.ID] = seenPort{port: &ports[i], at: time.Now()}
			}
			w.mu.Unlock()
			if !ok {
				continue
			}
			select {
			case w.events <- event.GenericEvent{Object: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name}}}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// seenFor is how long a port found ACTIVE by a poll stands in for a GET of it. The reconcile
// it triggers can wait in the queue for many seconds when every worker is busy with slow
// creates (a burst without pools); older than this, a GET checks the port again.
const seenFor = 30 * time.Second

type seenPort struct {
	port *neutron.Port
	at   time.Time
}

// Take returns the port as a recent poll found it ACTIVE, once, so that the reconcile the
// poll triggered needs no GET of its own; false when there is none or it is too old.
func (w *ActiveWatch) Take(portID string) (*neutron.Port, bool) {
	w.init()
	w.mu.Lock()
	defer w.mu.Unlock()
	sp, ok := w.seen[portID]
	delete(w.seen, portID)
	for id, s := range w.seen { // forget what no reconcile came for
		if time.Since(s.at) > seenFor {
			delete(w.seen, id)
		}
	}
	if !ok || time.Since(sp.at) > seenFor {
		return nil, false
	}
	return sp.port, true
}
