package podport

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/controller/osresource"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

const (
	// maxRebinds is how often a binding_failed port is re-bound before it is replaced.
	maxRebinds = 3
	// maxReplacements is how many ports of one pod are replaced because Neutron could not
	// bind them. After that the binding is retried slowly with the Ready condition saying
	// why: a node Neutron cannot bind to (no agent, or an agent whose host name is not the
	// node's name) would otherwise churn ports for ever.
	maxReplacements = 2
)

// ensureBinding re-triggers a failed binding by setting binding:host_id again (ML2 retries
// binding_failed ports on update); after maxRebinds attempts the port is replaced, at most
// maxReplacements times per pod, further apart each time.
func (r *Reconciler) ensureBinding(ctx context.Context, pod *corev1.Pod, kp *apiv1.KuryrPort, port *neutron.Port) (ctrl.Result, bool, error) {
	failed := port.VIFType == neutron.VIFTypeBindingFailed
	if !failed && port.HostID == pod.Spec.NodeName {
		return ctrl.Result{}, false, nil
	}
	uid, host, t := string(pod.UID), pod.Spec.NodeName, r.timing()
	var rebinds, replaced int
	r.update(uid, func(rec *record) { rec.rebinds++; rebinds, replaced = rec.rebinds, rec.replaced })
	if failed && rebinds > maxRebinds && replaced < maxReplacements {
		r.event(pod, corev1.EventTypeWarning, apiv1.ReasonBindingFailed, "RecreatePort",
			"Binding of port %s to %s failed %d times; replacing the port (%d of %d)", port.ID, host, maxRebinds, replaced+1, maxReplacements)
		if err := r.Neutron.DeletePort(ctx, port.ID); err != nil {
			res, err := r.failed(ctx, pod, kp, "RecreatePort", fmt.Errorf("deleting unbindable port: %w", err))
			return res, true, err
		}
		r.update(uid, func(rec *record) {
			rec.rebinds, rec.replaced, rec.replacedID, rec.portID = 0, rec.replaced+1, port.ID, ""
		})
		if r.Active != nil {
			r.Active.Done(port.ID)
		}
		return ctrl.Result{RequeueAfter: 4 * t.ActivePoll << (2 * replaced)}, true, nil
	}
	if _, err := r.Neutron.UpdatePort(ctx, port.ID, neutron.PortUpdateOpts{HostID: &host}); err != nil {
		res, err := r.failed(ctx, pod, kp, "RebindPort", fmt.Errorf("re-binding port: %w", err))
		return res, true, err
	}
	if !failed {
		return ctrl.Result{RequeueAfter: 4 * t.ActivePoll}, true, nil
	}
	if replaced < maxReplacements {
		r.event(pod, corev1.EventTypeWarning, apiv1.ReasonBindingFailed, "RebindPort",
			"Binding of port %s to %s failed; retrying (attempt %d)", port.ID, host, rebinds)
		return ctrl.Result{RequeueAfter: 4 * t.ActivePoll}, true, nil
	}
	res, err := r.report(ctx, pod, kp, "BindPort", osresource.Failure{
		Reason: apiv1.ReasonBindingFailed, Retry: t.TerminalRetry,
		Message: fmt.Sprintf("Neutron cannot bind port %s to host %s (%d ports tried): check that a Neutron agent "+
			"(OVS agent or ovn-controller) runs on the node and that its host name is the Kubernetes node name %q",
			port.ID, host, maxReplacements+1, host),
	}, nil)
	return res, true, err
}
