package podport

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/vif"
)

// ReasonBindingFailed is used when Neutron could not bind a port to the pod's node.
const ReasonBindingFailed = "PortBindingFailed"

// writeStatus records port as the default VIF with matching conditions. It returns whether
// the VIF is active. A VIF once seen ACTIVE stays active for the same port: the node daemon
// waits for the flag once, and an agent restart briefly reporting DOWN must not undo it.
func (r *Reconciler) writeStatus(ctx context.Context, kp *apiv1.KuryrPort, port *openstack.Port) (bool, error) {
	subnets := map[string]*openstack.Subnet{r.Network.Subnet.ID: r.Network.Subnet}
	desired := vif.FromPort(port, r.Network.Network, subnets, r.VIF)
	if old, ok := kp.Status.VIFs[DefaultIfName]; ok && old.VIF.ID == port.ID && old.VIF.Active {
		desired.Active = true
	}
	status := kp.Status.DeepCopy()
	status.VIFs = map[string]apiv1.VIFStatus{DefaultIfName: {Default: true, VIF: desired}}
	status.ObservedGeneration = kp.Generation
	if desired.Active {
		setConditions(status, kp.Generation, metav1.ConditionTrue, apiv1.ReasonPortActive, "Port "+port.ID+" is ACTIVE",
			metav1.ConditionFalse, apiv1.ReasonPortActive, "")
	} else {
		setConditions(status, kp.Generation, metav1.ConditionFalse, apiv1.ReasonWaitingActive, "Port "+port.ID+" is "+port.Status,
			metav1.ConditionTrue, apiv1.ReasonWaitingActive, "Waiting for Neutron to report port "+port.ID+" ACTIVE")
	}
	if err := r.patchStatus(ctx, kp, status); err != nil {
		return false, fmt.Errorf("recording port %s: %w", port.ID, err)
	}
	return desired.Active, nil
}

func setConditions(s *apiv1.KuryrPortStatus, gen int64, ready metav1.ConditionStatus, readyReason, readyMsg string,
	progressing metav1.ConditionStatus, progReason, progMsg string) {
	meta.SetStatusCondition(&s.Conditions, metav1.Condition{
		Type: apiv1.ConditionReady, Status: ready, Reason: readyReason, Message: readyMsg, ObservedGeneration: gen,
	})
	meta.SetStatusCondition(&s.Conditions, metav1.Condition{
		Type: apiv1.ConditionProgressing, Status: progressing, Reason: progReason, Message: progMsg, ObservedGeneration: gen,
	})
}

func findCondition(cs []metav1.Condition, t string) *metav1.Condition {
	return meta.FindStatusCondition(cs, t)
}

// patchStatus writes status if it differs from kp's, and updates kp in place.
func (r *Reconciler) patchStatus(ctx context.Context, kp *apiv1.KuryrPort, status *apiv1.KuryrPortStatus) error {
	if equality.Semantic.DeepEqual(&kp.Status, status) {
		return nil
	}
	orig := kp.DeepCopy()
	kp.Status = *status
	if err := r.Client.Status().Patch(ctx, kp, client.MergeFrom(orig)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	return nil
}

// openStackError turns a classified OpenStack error into the reconcile result: transient
// errors are returned for exponential back-off; quota, IP exhaustion and terminal errors are
// reported on the pod and the KuryrPort and retried slowly, without an error.
func (r *Reconciler) openStackError(ctx context.Context, pod *corev1.Pod, kp *apiv1.KuryrPort, err error) (ctrl.Result, error) {
	t := r.timing()
	var reason string
	retry := t.QuotaRetry
	switch openstack.ClassOf(err) {
	case openstack.ClassOverQuota:
		reason = apiv1.ReasonQuotaExceeded
	case openstack.ClassSubnetExhausted:
		reason = apiv1.ReasonSubnetFull
	case openstack.ClassTerminal:
		reason, retry = apiv1.ReasonOpenStackError, t.TerminalRetry
	default:
		return ctrl.Result{}, err
	}
	ctrl.LoggerFrom(ctx).Info("Cannot get a port for the pod; retrying later", "reason", reason, "retryAfter", retry, "error", err.Error())
	r.event(pod, corev1.EventTypeWarning, reason, "CreatePort", "%s", err.Error())
	status := kp.Status.DeepCopy()
	msg := err.Error()
	var osErr *openstack.Error
	if errors.As(err, &osErr) && osErr.Message != "" {
		msg = osErr.Message
	}
	setConditions(status, kp.Generation, metav1.ConditionFalse, reason, msg, metav1.ConditionTrue, reason, msg)
	if perr := r.patchStatus(ctx, kp, status); perr != nil {
		return ctrl.Result{}, fmt.Errorf("recording %s condition: %w", reason, perr)
	}
	return ctrl.Result{RequeueAfter: retry}, nil
}

func (r *Reconciler) event(pod *corev1.Pod, eventtype, reason, action, note string, args ...any) {
	if r.Recorder == nil || pod == nil {
		return
	}
	r.Recorder.Eventf(pod, nil, eventtype, reason, action, note, args...)
}
