package podport

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

func TestPodPredicateUpdates(t *testing.T) {
	withFinalizer := func(p *corev1.Pod) { p.Finalizers = []string{apiv1.PodFinalizer} }
	unscheduled := func(p *corev1.Pod) { p.Spec.NodeName = "" }
	deleting := func(p *corev1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now }
	succeeded := func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }
	ready := func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	cases := []struct {
		name     string
		old, new *corev1.Pod
		want     bool
	}{
		{"scheduled", newPod("p", "u", unscheduled), newPod("p", "u"), true},
		{"kuryr-kubernetes finalizer (removed on sight)", newPod("p", "u"), newPod("p", "u", withFinalizer), true},
		{"deletion started", newPod("p", "u", running), newPod("p", "u", running, deleting), true},
		{"containers of a terminating pod stopped", newPod("p", "u", running, deleting), newPod("p", "u", stopped, deleting), true},
		{"containers of a running pod stopped", newPod("p", "u", running), newPod("p", "u", stopped), false},
		{"completed", newPod("p", "u"), newPod("p", "u", succeeded), true},
		{"status only", newPod("p", "u"), newPod("p", "u", ready), false},
		{"unscheduled, no finalizer", newPod("p", "u", unscheduled), newPod("p", "u", unscheduled, ready), false},
	}
	pred := podPredicate()
	for _, c := range cases {
		if got := pred.Update(event.UpdateEvent{ObjectOld: c.old, ObjectNew: c.new}); got != c.want {
			t.Errorf("%s: passes = %v, want %v", c.name, got, c.want)
		}
	}
}
