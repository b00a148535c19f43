package osresource

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

// SetConditions sets the two conditions every object carries: Ready, and Progressing
// (True while the controller still has work to do). LastTransitionTime only moves when a
// status changes, so a reconcile that finds nothing new writes nothing.
func SetConditions(conds *[]metav1.Condition, gen int64, ready bool, reason, readyMsg, progressMsg string) {
	rs, ps := metav1.ConditionFalse, metav1.ConditionTrue
	if ready {
		rs, ps = metav1.ConditionTrue, metav1.ConditionFalse
		progressMsg = ""
	}
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: apiv1.ConditionReady, Status: rs, Reason: reason, Message: readyMsg, ObservedGeneration: gen,
	})
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: apiv1.ConditionProgressing, Status: ps, Reason: reason, Message: progressMsg, ObservedGeneration: gen,
	})
}

// SetFailed records f as Ready=False and Progressing=True (the controller keeps trying).
func SetFailed(conds *[]metav1.Condition, gen int64, f Failure) {
	SetConditions(conds, gen, false, f.Reason, f.Message, f.Message)
}

// PatchStatus applies mutate to obj's status and writes the difference, if any, with a
// merge patch; obj is updated in place. An object that is gone is not an error.
func PatchStatus[T client.Object](ctx context.Context, c client.Client, obj T, mutate func(T)) error {
	orig, ok := obj.DeepCopyObject().(T)
	if !ok {
		return fmt.Errorf("copying %T", obj)
	}
	mutate(obj)
	if equality.Semantic.DeepEqual(orig, obj) {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(orig)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("writing the status of %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	return nil
}
