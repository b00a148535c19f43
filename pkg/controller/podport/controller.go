// Package podport gives every scheduled, non-hostNetwork pod a Neutron port and records it
// in the pod's KuryrPort, which the node daemon reads to plug the pod. It is the only
// writer of pod ports: it converges each port to the pod's podnet.Target.
//
// One reconciler handles both objects under the same key (KuryrPort name = pod name), so the
// order of a pod's life is decided in one place:
//
//	KuryrPort (with finalizer, owned by the pod) -> port through the osresource lifecycle:
//	stored ID verified as the pod's, else adopted by device_id and owner tag, else created
//	(or taken from the node's pool) -> status -> poll until ACTIVE (RequeueAfter, never
//	blocking)
//
// Pods carry no finalizer: a terminating pod keeps its port until its containers have
// stopped (or its grace period plus a margin has passed), then the KuryrPort releases the
// port in the background, so deleting a pod never waits on Neutron.
package podport

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/controller/osresource"
	"github.com/kuryr-go/kuryr-go/pkg/controller/podnet"
	"github.com/kuryr-go/kuryr-go/pkg/controller/pool"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/vif"
)

// ControllerName names the controller in logs, metrics and Events.
const ControllerName = "kuryr-podport"

// EventRecorder is the part of the events API the reconciler uses (events.EventRecorder).
type EventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// PortPool is the pool driver as the reconciler sees it (pool.Manager).
type PortPool interface {
	// Acquire returns a port for pod: a free pool port (hit) or one created for the pod.
	Acquire(ctx context.Context, key pool.Key, pod *corev1.Pod) (port *neutron.Port, hit bool, err error)
	// Release gives the port back to key's pool, or deletes it when the pool is full.
	Release(ctx context.Context, port *neutron.Port, key pool.Key) error
	// Bind gives a recorded pool port the pod's name, device_id and tags in the background.
	Bind(port *neutron.Port, pod *corev1.Pod)
}

// Timing holds the intervals of the reconciler.
type Timing struct {
	// ActivePoll is the first interval of the ACTIVE poll; it grows while the port waits.
	ActivePoll time.Duration
	// QuotaRetry is the retry interval after OverQuota or IP exhaustion.
	QuotaRetry time.Duration
	// TerminalRetry is the retry interval after errors a retry cannot fix by itself.
	TerminalRetry time.Duration
	// BackoffBase and BackoffMax bound the exponential back-off of transient errors.
	BackoffBase, BackoffMax time.Duration
	// TerminationMargin is how long after a terminating pod's deletion deadline (its
	// deletionTimestamp) the port is released although the pod has not reported its
	// containers stopped (its node is down).
	TerminationMargin time.Duration
	// ReleaseTimeout is how long a deleted KuryrPort waits for its port to be released;
	// after it, the KuryrPort goes and the orphan sweep deletes the port once Neutron
	// answers (so a Neutron outage cannot hold namespace deletion for ever).
	ReleaseTimeout time.Duration
}

// activeFallback is the requeue of a pod whose port waits for ACTIVE while an ActiveWatch
// runs: the watch enqueues it much sooner.
const activeFallback = time.Minute

// DefaultTiming is used for zero fields of Reconciler.Timing.
var DefaultTiming = Timing{
	ActivePoll: 500 * time.Millisecond, QuotaRetry: 30 * time.Second, TerminalRetry: 2 * time.Minute,
	BackoffBase: 250 * time.Millisecond, BackoffMax: 60 * time.Second,
	TerminationMargin: 30 * time.Second, ReleaseTimeout: 10 * time.Minute,
}

// Reconciler reconciles pods and their KuryrPorts.
type Reconciler struct {
	// Client reads from the cache and writes to the API server.
	Client client.Client
	// APIReader reads from the API server directly (used when the cache lags); may be nil.
	APIReader client.Reader
	Neutron   neutron.Client
	// Recorder posts Events on pods; nil disables them.
	Recorder EventRecorder
	// Networks says where each pod's port lives.
	Networks     podnet.Resolver
	ClusterID    string
	ResourceTags []string
	VIF          vif.Options
	Timing       Timing
	// Workers is the number of pods reconciled in parallel.
	Workers int
	// Pool hands out pooled ports ([kubernetes] vif_pool_driver = neutron); nil creates
	// one port per pod and deletes it on release (noop).
	Pool PortPool
	// Trigger, if set, lets other components (the orphan sweep) enqueue a pod by sending a
	// KuryrPort or Pod carrying its namespace and name.
	Trigger <-chan event.GenericEvent
	// Active, if set, detects ACTIVE ports with one list call per interval for all waiting
	// ports; without it each waiting pod polls its own port.
	Active *ActiveWatch
	// SkipNameValidation allows several instances in one process (tests).
	SkipNameValidation bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// records holds what this process knows of each pod, by pod UID (see record).
	records sync.Map
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) timing() Timing {
	t := r.Timing
	d := DefaultTiming
	if t.ActivePoll <= 0 {
		t.ActivePoll = d.ActivePoll
	}
	if t.QuotaRetry <= 0 {
		t.QuotaRetry = d.QuotaRetry
	}
	if t.TerminalRetry <= 0 {
		t.TerminalRetry = d.TerminalRetry
	}
	if t.BackoffBase <= 0 {
		t.BackoffBase = d.BackoffBase
	}
	if t.BackoffMax <= 0 {
		t.BackoffMax = d.BackoffMax
	}
	if t.TerminationMargin <= 0 {
		t.TerminationMargin = d.TerminationMargin
	}
	if t.ReleaseTimeout <= 0 {
		t.ReleaseTimeout = d.ReleaseTimeout
	}
	return t
}

func (t Timing) failures() osresource.Timing {
	return osresource.Timing{Slow: t.QuotaRetry, Terminal: t.TerminalRetry}
}

// SetupWithManager registers the controller: pods (filtered to the changes that matter) and
// KuryrPorts map to the same key; the optional Trigger channel adds requests from outside.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	t := r.timing()
	workers := r.Workers
	if workers <= 0 {
		workers = config.DefaultWorkers
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&corev1.Pod{}, builder.WithPredicates(podPredicate())).
		Watches(&apiv1.KuryrPort{}, &handler.EnqueueRequestForObject{},
			builder.WithPredicates(r.kuryrPortPredicate())).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: workers,
			RateLimiter: workqueue.NewTypedMaxOfRateLimiter(
				workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](t.BackoffBase, t.BackoffMax),
				&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(100), 500)},
			),
			ReconciliationTimeout: 2 * time.Minute,
			SkipNameValidation:    &r.SkipNameValidation,
		})
	if r.Trigger != nil {
		b = b.WatchesRawSource(source.Channel(r.Trigger, &handler.EnqueueRequestForObject{}))
	}
	if r.Active != nil {
		if err := mgr.Add(r.Active); err != nil {
			return err
		}
		b = b.WatchesRawSource(source.Channel(r.Active.Events(), &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(r)
}

// podPredicate passes the pod changes that change what the controller has to do: creation,
// scheduling, deletion, the containers of a terminating pod stopping, completion, and the
// finalizer kuryr-kubernetes put on pods (removed on sight).
func podPredicate() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool {
			pod, ok := e.Object.(*corev1.Pod)
			return ok && (managed(pod) || hasFinalizer(pod, apiv1.PodFinalizer))
		},
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*corev1.Pod)
			n, ok2 := e.ObjectNew.(*corev1.Pod)
			if !ok1 || !ok2 {
				return false
			}
			if !managed(n) && !hasFinalizer(n, apiv1.PodFinalizer) {
				return false
			}
			return o.Spec.NodeName != n.Spec.NodeName ||
				(o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil) ||
				completed(o) != completed(n) ||
				(n.DeletionTimestamp != nil && containersStopped(o) != containersStopped(n)) ||
				hasFinalizer(n, apiv1.PodFinalizer)
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return true },
	}
}

// kuryrPortPredicate ignores our own status writes and the creation events of KuryrPorts
// this process just created; it passes deletions and edits made by others.
func (r *Reconciler) kuryrPortPredicate() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool {
			kp, ok := e.Object.(*apiv1.KuryrPort)
			if !ok {
				return false
			}
			return !r.createdHere(kp.Spec.PodUID)
		},
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld, e.ObjectNew
			return o.GetGeneration() != n.GetGeneration() ||
				(o.GetDeletionTimestamp() == nil) != (n.GetDeletionTimestamp() == nil) ||
				hasFinalizer(o, apiv1.KuryrPortFinalizer) != hasFinalizer(n, apiv1.KuryrPortFinalizer)
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return true },
	}
}
