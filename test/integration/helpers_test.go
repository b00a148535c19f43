//go:build integration

package integration

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

func testPod(tb *Testbed, ns, name string) *corev1.Pod {
	image := tb.Get("TEST_IMAGE")
	if image == "" {
		image = "busybox"
	}
	zero := int64(0)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName:                      tb.Get("NODE_NAME"),
			TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{
				Name: "main", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"sleep", "3600"},
			}},
		},
	}
}

func createPod(t testing.TB, kube client.Client, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	if err := kube.Create(context.Background(), pod); err != nil {
		t.Fatalf("creating pod %s: %v", pod.Name, err)
	}
	return pod
}

// deletePod deletes without grace; our finalizer keeps it until the port is released.
func deletePod(t testing.TB, kube client.Client, ns, name string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	if err := kube.Delete(context.Background(), pod, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("deleting pod %s: %v", name, err)
	}
}

func getKP(kube client.Client, ns, name string) *apiv1.KuryrPort {
	kp := &apiv1.KuryrPort{}
	if err := kube.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, kp); err != nil {
		return nil
	}
	return kp
}

func recordedPortID(kube client.Client, ns, name string) string {
	if kp := getKP(kube, ns, name); kp != nil {
		return kp.Status.VIFs["eth0"].VIF.ID
	}
	return ""
}

func readyReason(kp *apiv1.KuryrPort) string {
	if kp == nil {
		return ""
	}
	if c := meta.FindStatusCondition(kp.Status.Conditions, apiv1.ConditionReady); c != nil {
		return c.Reason
	}
	return ""
}

func podGone(kube client.Client, ns, name string) bool {
	err := kube.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &corev1.Pod{})
	return apierrors.IsNotFound(err)
}

// podEvent reports whether an Event with reason exists for the pod.
func podEvent(t testing.TB, kube client.Client, pod *corev1.Pod, reason string) bool {
	t.Helper()
	var evs corev1.EventList
	if err := kube.List(context.Background(), &evs, client.InNamespace(pod.Namespace)); err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs.Items {
		if ev.InvolvedObject.UID == pod.UID && ev.Reason == reason {
			return true
		}
	}
	return false
}
