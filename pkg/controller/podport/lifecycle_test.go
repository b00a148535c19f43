package podport

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

// TestStatusWriteLostThenRestart: the port is created but recording it fails and the process
// restarts (empty memory). The next reconcile adopts the port instead of creating another.
func TestStatusWriteLostThenRestart(t *testing.T) {
	failStatus := true
	funcs := &interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			if failStatus {
				return errors.New("apiserver unavailable")
			}
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	}
	e := newEnv(t, funcs, newPod(testPod, testUID))
	if _, err := e.reconcile(testPod); err == nil {
		t.Fatal("want the status write error")
	}
	if n := len(e.os.Ports()); n != 1 {
		t.Fatalf("%d ports, want 1", n)
	}
	failStatus = false
	e.r = &Reconciler{Client: e.r.Client, OpenStack: e.r.OpenStack, Recorder: e.r.Recorder, Network: e.r.Network,
		ClusterID: e.r.ClusterID, VIF: e.r.VIF} // a restarted process: nothing in memory
	e.mustReconcile(testPod)
	if n := e.os.Calls("create port"); n != 1 {
		t.Fatalf("%d creates, want 1 (the second reconcile must adopt)", n)
	}
	if got := e.kp(testPod).Status.VIFs["eth0"].VIF.ID; got != e.os.Ports()[0].ID {
		t.Errorf("recorded %q", got)
	}
}

// TestPodDeletionReleasesPortThenFinalizers checks the order: port, KuryrPort, pod.
func TestPodDeletionReleasesPortThenFinalizers(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	e.mustReconcile(testPod)
	if err := e.k8s.Delete(context.Background(), e.pod(testPod)); err != nil {
		t.Fatal(err)
	}
	if e.pod(testPod) == nil || e.pod(testPod).DeletionTimestamp == nil {
		t.Fatal("pod should be held by the finalizer")
	}
	e.mustReconcile(testPod)
	if n := len(e.os.Ports()); n != 0 {
		t.Fatalf("%d ports left, want 0", n)
	}
	if e.kp(testPod) != nil {
		t.Error("KuryrPort still exists")
	}
	if e.pod(testPod) != nil {
		t.Error("pod still exists (finalizer not removed)")
	}
	del, kpFin, podFin := e.traceIndex("delete port"), e.traceIndex("patch KuryrPort"), lastIndex(e, "patch Pod")
	if del < 0 || kpFin < del || podFin < kpFin {
		t.Errorf("order: delete port at %d, KuryrPort finalizer at %d, pod finalizer at %d; trace %v", del, kpFin, podFin, e.trace)
	}
	// Nothing left to do, and a second pass is harmless.
	if res := e.mustReconcile(testPod); !res.IsZero() {
		t.Errorf("result %+v", res)
	}
}

func TestReleaseTreatsAlreadyDeletedPortAsDone(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	e.mustReconcile(testPod)
	e.os.RemovePort(e.kp(testPod).Status.VIFs["eth0"].VIF.ID)
	_ = e.k8s.Delete(context.Background(), e.pod(testPod))
	e.mustReconcile(testPod)
	if e.pod(testPod) != nil || e.kp(testPod) != nil {
		t.Error("pod or KuryrPort left behind")
	}
}

func TestReleaseErrorKeepsFinalizers(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	e.mustReconcile(testPod)
	_ = e.k8s.Delete(context.Background(), e.pod(testPod))
	e.os.Fail = func(op string) error {
		if op == "delete port" {
			return errors.New("connection refused")
		}
		return nil
	}
	if _, err := e.reconcile(testPod); err == nil {
		t.Fatal("want an error")
	}
	if e.kp(testPod) == nil || e.pod(testPod) == nil {
		t.Fatal("finalizers dropped although the port was not deleted")
	}
}

func TestCompletedPodReleasesPortEarly(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	e.mustReconcile(testPod)
	pod := e.pod(testPod)
	pod.Status.Phase = corev1.PodSucceeded
	if err := e.k8s.Status().Update(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	e.mustReconcile(testPod)
	if n := len(e.os.Ports()); n != 0 {
		t.Fatalf("%d ports, want the port released", n)
	}
	if e.kp(testPod) != nil {
		t.Error("KuryrPort still exists")
	}
	pod = e.pod(testPod)
	if pod == nil || hasFinalizer(pod, apiv1.PodFinalizer) {
		t.Fatalf("completed pod = %+v, want it kept without our finalizer", pod)
	}
	e.mustReconcile(testPod)
	if n := e.os.Calls("create port"); n != 1 {
		t.Errorf("completed pod got a new port (%d creates)", n)
	}
}

func TestPodRecreatedUnderSameName(t *testing.T) {
	oldKP := &apiv1.KuryrPort{
		ObjectMeta: metav1.ObjectMeta{Name: testPod, Namespace: testNS, Finalizers: []string{apiv1.KuryrPortFinalizer}},
		Spec:       apiv1.KuryrPortSpec{PodUID: "old-uid", PodNodeName: testNode},
	}
	e := newEnv(t, nil, newPod(testPod, testUID), oldKP)
	old := e.os.AddPort(oneRecorded(oldKP))
	kp := e.kp(testPod)
	kp.Status.VIFs = map[string]apiv1.VIFStatus{"eth0": {Default: true, VIF: apiv1.VIF{ID: old.ID}}}
	if err := e.k8s.Status().Update(context.Background(), kp); err != nil {
		t.Fatal(err)
	}
	res := e.mustReconcile(testPod)
	if res.RequeueAfter == 0 {
		t.Errorf("result %+v, want a short requeue", res)
	}
	e.mustReconcile(testPod)
	ports := e.os.Ports()
	if len(ports) != 1 || ports[0].ID == old.ID || ports[0].DeviceID != testUID {
		t.Fatalf("ports = %+v, want only a port for the new pod", ports)
	}
	if kp := e.kp(testPod); kp == nil || kp.Spec.PodUID != testUID {
		t.Errorf("KuryrPort = %+v", kp)
	}
}

func TestDeletedKuryrPortOfRunningPodIsReplaced(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	e.mustReconcile(testPod)
	first := e.kp(testPod).Status.VIFs["eth0"].VIF.ID
	if err := e.k8s.Delete(context.Background(), e.kp(testPod)); err != nil {
		t.Fatal(err)
	}
	e.mustReconcile(testPod)
	ports := e.os.Ports()
	if len(ports) != 1 || ports[0].ID == first {
		t.Fatalf("ports = %+v", ports)
	}
	if pod := e.pod(testPod); !hasFinalizer(pod, apiv1.PodFinalizer) {
		t.Error("running pod lost its finalizer")
	}
}

func TestPollIntervalGrows(t *testing.T) {
	r := &Reconciler{}
	kp := &apiv1.KuryrPort{}
	at := func(age time.Duration) time.Duration {
		kp.Status.Conditions = []metav1.Condition{{Type: apiv1.ConditionProgressing, Status: metav1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(time.Now().Add(-age))}}
		return r.pollInterval(kp)
	}
	if a, b, c := at(0), at(time.Minute), at(time.Hour); !(a == 500*time.Millisecond && b > a && c > b && c <= 30*time.Second) {
		t.Errorf("intervals %v %v %v", a, b, c)
	}
}

func oneRecorded(kp *apiv1.KuryrPort) (p portSpec) {
	p.Name, p.DeviceID, p.DeviceOwner = kp.Name, kp.Spec.PodUID, "compute:kuryr"
	return p
}

func lastIndex(e *env, s string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.trace) - 1; i >= 0; i-- {
		if e.trace[i] == s {
			return i
		}
	}
	return -1
}

// TestKuryrPortOfUnscheduledPodIsKept: a KuryrPort prepared before the pod is scheduled is
// neither released nor used until the pod has a node; then its unrecorded port is adopted.
func TestKuryrPortOfUnscheduledPodIsKept(t *testing.T) {
	pod := newPod(testPod, testUID, func(p *corev1.Pod) { p.Spec.NodeName = "" })
	kp := &apiv1.KuryrPort{
		ObjectMeta: metav1.ObjectMeta{Name: testPod, Namespace: testNS, Finalizers: []string{apiv1.KuryrPortFinalizer}},
		Spec:       apiv1.KuryrPortSpec{PodUID: testUID, PodNodeName: testNode},
	}
	e := newEnv(t, nil, pod, kp)
	port := e.os.AddPort(portSpec{Name: testPod, DeviceID: testUID, DeviceOwner: "compute:kuryr", HostID: testNode})
	e.mustReconcile(testPod)
	if e.kp(testPod) == nil || len(e.os.Ports()) != 1 {
		t.Fatal("KuryrPort or port of the unscheduled pod released")
	}
	p := e.pod(testPod)
	p.Spec.NodeName = testNode
	if err := e.k8s.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	e.mustReconcile(testPod)
	if got := e.kp(testPod).Status.VIFs["eth0"].VIF.ID; got != port.ID || e.os.Calls("create port") != 0 {
		t.Errorf("recorded %q with %d creates, want the existing port adopted", got, e.os.Calls("create port"))
	}
}

// TestFinalizerWriteFailsNoPort: the pod finalizer and the KuryrPort are written at once, but
// no port is created until the finalizer is in place; the retry finishes the job.
func TestFinalizerWriteFailsNoPort(t *testing.T) {
	failPatch := true
	funcs := &interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if _, isPod := obj.(*corev1.Pod); isPod && failPatch {
				return errors.New("apiserver unavailable")
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
	}
	e := newEnv(t, funcs, newPod(testPod, testUID))
	if _, err := e.reconcile(testPod); err == nil {
		t.Fatal("want the finalizer write error")
	}
	if n := len(e.os.Ports()); n != 0 {
		t.Fatalf("%d ports created without the pod finalizer, want 0", n)
	}
	if e.kp(testPod) == nil {
		t.Fatal("the KuryrPort written alongside is missing")
	}
	failPatch = false
	e.mustReconcile(testPod)
	if pod := e.pod(testPod); !hasFinalizer(pod, apiv1.PodFinalizer) {
		t.Fatalf("pod finalizers = %v", pod.Finalizers)
	}
	if n := len(e.os.Ports()); n != 1 || e.kp(testPod).Status.VIFs["eth0"].VIF.ID != e.os.Ports()[0].ID {
		t.Fatalf("%d ports, recorded %+v", n, e.kp(testPod).Status.VIFs)
	}
}
