package podport

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/controller/osresource"
	"github.com/kuryr-go/kuryr-go/pkg/controller/podnet"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// writeStatus records port as the default VIF with matching conditions. It returns whether
// the VIF is active. A VIF once seen ACTIVE stays active for the same port: the node daemon
// waits for the flag once, and an agent restart briefly reporting DOWN must not undo it.
func (r *Reconciler) writeStatus(ctx context.Context, kp *apiv1.KuryrPort, port *neutron.Port, t *podnet.Target) (bool, error) {
	desired := t.VIF(port, r.VIF)
	if old, ok := kp.Status.VIFs[DefaultIfName]; ok && old.VIF.ID == port.ID && old.VIF.Active {
		desired.Active = true
	}
	err := osresource.PatchStatus(ctx, r.Client, kp, func(kp *apiv1.KuryrPort) {
		kp.Status.VIFs = map[string]apiv1.VIFStatus{DefaultIfName: {Default: true, VIF: desired}}
		kp.Status.ObservedGeneration = kp.Generation
		if desired.Active {
			osresource.SetConditions(&kp.Status.Conditions, kp.Generation, true, apiv1.ReasonPortActive,
				"Port "+port.ID+" is ACTIVE", "")
		} else {
			osresource.SetConditions(&kp.Status.Conditions, kp.Generation, false, apiv1.ReasonWaitingActive,
				"Port "+port.ID+" is "+port.Status, "Waiting for Neutron to report port "+port.ID+" ACTIVE")
		}
	})
	if err != nil {
		return false, fmt.Errorf("recording port %s: %w", port.ID, err)
	}
	return desired.Active, nil
}

func findCondition(cs []metav1.Condition, t string) *metav1.Condition {
	return meta.FindStatusCondition(cs, t)
}

// failed reports a failed OpenStack call made for the pod: condition, Event, requeue.
func (r *Reconciler) failed(ctx context.Context, pod *corev1.Pod, kp *apiv1.KuryrPort, action string, err error) (ctrl.Result, error) {
	return r.report(ctx, pod, kp, action, osresource.Classify(err, r.timing().failures()), err)
}

// report records f on the KuryrPort (Ready=False with f's reason) and in a Warning Event on
// the pod (on the KuryrPort when the pod is gone). Failures without a retry interval go to
// the work queue's exponential back-off: cause is returned then.
func (r *Reconciler) report(ctx context.Context, pod *corev1.Pod, kp *apiv1.KuryrPort, action string, f osresource.Failure, cause error) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	if cause != nil {
		log.Info("OpenStack request failed", "action", action, "reason", f.Reason, "retryAfter", f.Retry, "error", cause.Error())
	}
	r.eventOn(pod, kp, corev1.EventTypeWarning, f.Reason, action, "%s", f.Message)
	if err := osresource.PatchStatus(ctx, r.Client, kp, func(kp *apiv1.KuryrPort) {
		osresource.SetFailed(&kp.Status.Conditions, kp.Generation, f)
	}); err != nil {
		return ctrl.Result{}, fmt.Errorf("recording %s condition: %w", f.Reason, err)
	}
	if f.Retry == 0 {
		if cause == nil {
			cause = fmt.Errorf("%s: %s", f.Reason, f.Message)
		}
		return ctrl.Result{}, cause
	}
	return ctrl.Result{RequeueAfter: f.Retry}, nil
}

// reportRefused says which ports were not used or released because they are not the pod's.
func (r *Reconciler) reportRefused(pod *corev1.Pod, kp *apiv1.KuryrPort, refused []osresource.Refused) {
	for _, x := range refused {
		r.eventOn(pod, kp, corev1.EventTypeWarning, apiv1.ReasonForeignResource, "VerifyPort",
			"Neutron port %s is not this pod's and was left alone: %v", x.ID, x.Why)
	}
}

func (r *Reconciler) event(pod *corev1.Pod, eventtype, reason, action, note string, args ...any) {
	if pod != nil {
		r.eventOn(pod, nil, eventtype, reason, action, note, args...)
	}
}

// eventOn posts an Event on the pod, or on the KuryrPort when the pod is gone or is a
// newer pod of the same name.
func (r *Reconciler) eventOn(pod *corev1.Pod, kp *apiv1.KuryrPort, eventtype, reason, action, note string, args ...any) {
	if r.Recorder == nil {
		return
	}
	var regarding runtime.Object
	switch {
	case pod != nil && (kp == nil || string(pod.UID) == kp.Spec.PodUID):
		regarding = pod
	case kp != nil:
		regarding = kp
	default:
		return
	}
	r.Recorder.Eventf(regarding, nil, eventtype, reason, action, note, args...)
}

// pollInterval grows with the time the port has been waiting for ACTIVE, so pods whose
// node never plugs them do not keep Neutron busy.
func (r *Reconciler) pollInterval(kp *apiv1.KuryrPort) time.Duration {
	base := r.timing().ActivePoll
	waiting := time.Duration(0)
	if c := findCondition(kp.Status.Conditions, apiv1.ConditionProgressing); c != nil {
		waiting = r.now().Sub(c.LastTransitionTime.Time)
	}
	switch {
	case waiting < 5*time.Second:
		return base
	case waiting < 30*time.Second:
		return 2 * base
	case waiting < 2*time.Minute:
		return 10 * base
	default:
		return 60 * base
	}
}
