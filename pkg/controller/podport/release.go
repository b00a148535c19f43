package podport

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/controller/osresource"
	"github.com/kuryr-go/kuryr-go/pkg/metrics"
)

// release gives back the ports of a KuryrPort whose pod is gone or done (deleted, or
// returned to the pool), then removes its finalizer and deletes it. Only ports verified
// as the pod's are released. When Neutron keeps failing, a deleted KuryrPort goes after
// ReleaseTimeout anyway and leaves the port to the orphan sweep.
func (r *Reconciler) release(ctx context.Context, pod *corev1.Pod, kp *apiv1.KuryrPort) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	uid := kp.Spec.PodUID
	owner := &corev1.Pod{}
	owner.Namespace, owner.Name, owner.UID, owner.Spec.NodeName = kp.Namespace, kp.Name, types.UID(uid), kp.Spec.PodNodeName
	target, err := r.Networks.For(ctx, owner)
	if err != nil {
		return r.releaseFailed(ctx, pod, kp, fmt.Errorf("resolving the pod's network: %w", err))
	}
	a := r.actuator(owner, target)
	ids := kp.PortIDs()
	if a.trusted != "" && !slices.Contains(ids, a.trusted) {
		ids = append(ids, a.trusted)
	}
	if uid != "" && (len(ids) == 0 || r.createUncertain(uid)) {
		// Nothing recorded (a create may have happened before a crash), or a create timed
		// out and Neutron may have made that port after all.
		ports, err := a.Adoptable(ctx)
		if err != nil {
			return r.releaseFailed(ctx, pod, kp, fmt.Errorf("looking for ports to release: %w", err))
		}
		for i := range ports {
			if !slices.Contains(ids, ports[i].ID) {
				ids = append(ids, ports[i].ID)
			}
		}
	}
	for _, id := range ids {
		err := osresource.Release(ctx, a, id, id == a.trusted)
		switch {
		case errors.Is(err, osresource.ErrRefused):
			r.reportRefused(pod, kp, []osresource.Refused{{ID: id, Why: err}})
			continue
		case err != nil:
			return r.releaseFailed(ctx, pod, kp, fmt.Errorf("releasing port %s: %w", id, err))
		}
		metrics.PortsManaged.Dec()
		log.Info("Released port", "portID", id)
		if r.Active != nil {
			r.Active.Done(id)
		}
	}
	r.forget(uid)
	return ctrl.Result{}, r.dropKuryrPort(ctx, kp)
}

// dropKuryrPort removes the KuryrPort finalizer and deletes the KuryrPort.
func (r *Reconciler) dropKuryrPort(ctx context.Context, kp *apiv1.KuryrPort) error {
	if err := r.removeKuryrPortFinalizer(ctx, kp); err != nil {
		return err
	}
	if kp.DeletionTimestamp == nil {
		err := r.Client.Delete(ctx, kp, client.Preconditions{UID: &kp.UID})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting KuryrPort: %w", err)
		}
	}
	return nil
}

// releaseFailed reports a failed release; a KuryrPort deleted longer than ReleaseTimeout
// ago goes anyway (its port carries the pod's UID and the cluster tag, so the orphan
// sweep deletes it once Neutron answers), so namespaces can be deleted during an outage.
func (r *Reconciler) releaseFailed(ctx context.Context, pod *corev1.Pod, kp *apiv1.KuryrPort, err error) (ctrl.Result, error) {
	t := r.timing()
	if kp.DeletionTimestamp == nil || r.now().Sub(kp.DeletionTimestamp.Time) < t.ReleaseTimeout {
		return r.report(ctx, pod, kp, "ReleasePort", osresource.Classify(err, t.failures()), err)
	}
	ctrl.LoggerFrom(ctx).Info("Releasing the port keeps failing; leaving it to the orphan sweep",
		"releaseTimeout", t.ReleaseTimeout, "error", err.Error())
	r.eventOn(pod, kp, corev1.EventTypeWarning, apiv1.ReasonLeftForSweep, "ReleasePort",
		"The port could not be released for %s (%v); the orphan sweep deletes it once Neutron answers", t.ReleaseTimeout, err)
	r.forget(kp.Spec.PodUID)
	return ctrl.Result{}, r.dropKuryrPort(ctx, kp)
}

// keepPort handles a KuryrPort deleted while its pod runs: the pod keeps its port (it is
// plugged with it), the KuryrPort goes, and the next one records the same port.
func (r *Reconciler) keepPort(ctx context.Context, pod *corev1.Pod, kp *apiv1.KuryrPort) (ctrl.Result, error) {
	ids := kp.PortIDs()
	r.update(string(pod.UID), func(rec *record) {
		if rec.portID == "" && len(ids) > 0 {
			rec.carriedID = ids[0] // verified before it is recorded again
		}
	})
	if err := r.removeKuryrPortFinalizer(ctx, kp); err != nil {
		return ctrl.Result{}, err
	}
	if len(ids) > 0 {
		r.event(pod, corev1.EventTypeWarning, apiv1.ReasonPortKept, "KeepPort",
			"KuryrPort was deleted while the pod runs; the pod keeps port %s, which is recorded again", ids[0])
	}
	return ctrl.Result{RequeueAfter: r.timing().ActivePoll}, nil
}
