//go:build e2e

package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

// kubeClient returns a client for the testbed's API server with the kuryr types.
func kubeClient(t *testing.T) client.Client {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", tb["KUBECONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	_ = apiv1.AddToScheme(scheme)
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// kubectl runs kubectl with the admin kubeconfig.
func kubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := tb["KUBECTL"]
	if bin == "" {
		bin = "kubectl"
	}
	out, err := exec.Command(bin, append([]string{"--kubeconfig", tb["KUBECONFIG"]}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// testNamespace creates a namespace that is deleted at the end of the test.
func testNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), ns) })
}

// createPod starts a busybox pod, changed by each of mods, and waits until it is Running.
func createPod(t *testing.T, c client.Client, ns, name string, mods ...func(*corev1.Pod)) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	zero := int64(0)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{
				Name: "main", Image: tb["TEST_IMAGE"], ImagePullPolicy: corev1.PullNever,
				Command: []string{"sleep", "3600"},
			}},
		},
	}
	for _, mod := range mods {
		mod(pod)
	}
	if err := c.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deletePod(t, c, pod) })
	start := time.Now()
	for {
		if err := c.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			t.Fatal(err)
		}
		if pod.Status.Phase == corev1.PodRunning && pod.Status.PodIP != "" {
			t.Logf("pod %s/%s Running with IP %s after %v", ns, name, pod.Status.PodIP, time.Since(start))
			return pod
		}
		if time.Since(start) > 120*time.Second {
			out, _ := kubectl(t, "describe", "pod", "-n", ns, name)
			t.Fatalf("pod %s/%s not Running after 120s:\n%s", ns, name, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// deletePod deletes a pod and waits until it is gone.
func deletePod(t *testing.T, c client.Client, pod *corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	if err := c.Delete(ctx, pod); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting pod: %v", err)
		return
	}
	for start := time.Now(); time.Since(start) < 120*time.Second; time.Sleep(250 * time.Millisecond) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}); apierrors.IsNotFound(err) {
			return
		}
	}
	t.Errorf("pod %s/%s still exists 120s after deletion", pod.Namespace, pod.Name)
}

// getKuryrPort reads the pod's KuryrPort.
func getKuryrPort(t *testing.T, c client.Client, ns, name string) *apiv1.KuryrPort {
	t.Helper()
	kp := &apiv1.KuryrPort{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, kp); err != nil {
		t.Fatalf("KuryrPort %s/%s: %v", ns, name, err)
	}
	return kp
}

// defaultVIF returns the KuryrPort's default VIF.
func defaultVIF(t *testing.T, kp *apiv1.KuryrPort) *apiv1.VIF {
	t.Helper()
	for _, st := range kp.Status.VIFs {
		if st.Default {
			v := st.VIF
			return &v
		}
	}
	t.Fatalf("KuryrPort %s/%s has no default VIF", kp.Namespace, kp.Name)
	return nil
}
