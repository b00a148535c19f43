package podport

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/controller/sweep"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
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
	e.r = &Reconciler{Client: e.r.Client, Neutron: e.r.Neutron, Recorder: e.r.Recorder, Networks: e.r.Networks,
		ClusterID: e.r.ClusterID, VIF: e.r.VIF} // a restarted process: nothing in memory
	e.mustReconcile(testPod)
	if n := e.os.Calls("create port"); n != 1 {
		t.Fatalf("%d creates, want 1 (the second reconcile must adopt)", n)
	}
	if got := e.kp(testPod).Status.VIFs["eth0"].VIF.ID; got != e.os.Ports()[0].ID {
		t.Errorf("recorded %q", got)
	}
}

// TestDeletedPodGoesAtOnceAndItsPortAfter: pods carry no finalizer of ours, so a deleted
// pod goes at once; its KuryrPort then releases the port and goes too.
func TestDeletedPodGoesAtOnceAndItsPortAfter(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	e.mustReconcile(testPod)
	if pod := e.pod(testPod); len(pod.Finalizers) != 0 {
		t.Fatalf("pod finalizers = %v, want none", pod.Finalizers)
	}
	if err := e.k8s.Delete(context.Background(), e.pod(testPod)); err != nil {
		t.Fatal(err)
	}
	if e.pod(testPod) != nil {
		t.Fatal("the deleted pod is held")
	}
	e.mustReconcile(testPod)
	if n := len(e.os.Ports()); n != 0 {
		t.Fatalf("%d ports left, want 0", n)
	}
	if e.kp(testPod) != nil {
		t.Error("KuryrPort still exists")
	}
	if del, kpFin := e.traceIndex("delete port"), e.traceIndex("patch KuryrPort"); del < 0 || kpFin < del {
		t.Errorf("order: delete port at %d, KuryrPort finalizer at %d; trace %v", del, kpFin, e.trace)
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

func TestReleaseErrorKeepsKuryrPortAndSaysWhy(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	e.mustReconcile(testPod)
	_ = e.k8s.Delete(context.Background(), e.pod(testPod))
	e.os.Fail = func(op openstack.Op) error {
		if op == "delete port" {
			return openstack.NewError(op, openstack.ClassTransient, "connection refused")
		}
		return nil
	}
	if _, err := e.reconcile(testPod); err == nil {
		t.Fatal("want an error (back-off)")
	}
	kp := e.kp(testPod)
	if kp == nil || !hasFinalizer(kp, apiv1.KuryrPortFinalizer) {
		t.Fatal("KuryrPort dropped although the port was not released")
	}
	if c := findCondition(kp.Status.Conditions, apiv1.ConditionReady); c == nil || c.Reason != apiv1.ReasonOpenStackUnavailable {
		t.Errorf("Ready condition = %+v", c)
	}
	if !hasEvent(e.drainEvents(), apiv1.ReasonOpenStackUnavailable) {
		t.Error("no Event")
	}
	if e.pod(testPod) != nil {
		t.Error("the pod waits for Neutron")
	}
}

// TestNeutronOutageDoesNotHoldDeletionForEver: a deleted KuryrPort whose port cannot be
// released goes after the release timeout; the orphan sweep then deletes the port.
func TestNeutronOutageDoesNotHoldDeletionForEver(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	e.mustReconcile(testPod)
	portID := e.os.Ports()[0].ID
	_ = e.k8s.Delete(context.Background(), e.pod(testPod))
	_ = e.k8s.Delete(context.Background(), e.kp(testPod)) // the garbage collector, or a namespace deletion
	e.os.Fail = func(op openstack.Op) error {
		return openstack.NewError(op, openstack.ClassTransient, "503 Service Unavailable")
	}
	if _, err := e.reconcile(testPod); err == nil || e.kp(testPod) == nil {
		t.Fatal("the KuryrPort went before the release timeout")
	}
	e.r.Now = func() time.Time { return time.Now().Add(e.r.timing().ReleaseTimeout + time.Second) }
	e.mustReconcile(testPod)
	if e.kp(testPod) != nil {
		t.Fatal("the KuryrPort is still held after the release timeout")
	}
	if !hasEvent(e.drainEvents(), apiv1.ReasonLeftForSweep) {
		t.Error("no LeftForSweep Event")
	}
	e.os.Fail = nil
	sw := &sweep.Sweeper{Reader: e.k8s, Neutron: e.os, ClusterID: e.r.ClusterID, Networks: e.r.Networks,
		Grace: time.Minute, Now: e.r.Now, Log: testr.New(t)}
	if _, err := sw.SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := e.neutronPort(portID); p != nil {
		t.Errorf("port %s left after the sweep", portID)
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

// TestDeletedKuryrPortOfRunningPodKeepsPort: the running pod is plugged with its port, so
// the port stays and the next KuryrPort records it again.
func TestDeletedKuryrPortOfRunningPodKeepsPort(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID, running))
	e.mustReconcile(testPod)
	first := e.kp(testPod).Status.VIFs["eth0"].VIF.ID
	if err := e.k8s.Delete(context.Background(), e.kp(testPod)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		e.mustReconcile(testPod)
	}
	if ports := e.os.Ports(); len(ports) != 1 || ports[0].ID != first {
		t.Fatalf("ports = %+v, want only %s", ports, first)
	}
	if n := e.os.Calls("delete port"); n != 0 {
		t.Errorf("%d port deletes", n)
	}
	if kp := e.kp(testPod); kp == nil || kp.Status.VIFs["eth0"].VIF.ID != first {
		t.Errorf("KuryrPort = %+v, want %s recorded again", kp, first)
	}
	if !hasEvent(e.drainEvents(), apiv1.ReasonPortKept) {
		t.Error("no PortKept Event")
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
	if a, b, c := at(0), at(time.Minute), at(time.Hour); a != 500*time.Millisecond || b <= a || c <= b || c > 30*time.Second {
		t.Errorf("intervals %v %v %v", a, b, c)
	}
}

func oneRecorded(kp *apiv1.KuryrPort) (p portSpec) {
	p.Name, p.DeviceID, p.DeviceOwner = kp.Name, kp.Spec.PodUID, "compute:kuryr"
	p.NetworkID, p.ProjectID = "net-1", "proj-1"
	return p
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
	port := e.os.AddPort(portSpec{Name: testPod, DeviceID: testUID, DeviceOwner: "compute:kuryr", HostID: testNode,
		NetworkID: "net-1", ProjectID: "proj-1"})
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

// TestKuryrKubernetesPodFinalizerIsRemoved: pods of a cluster moving from kuryr-kubernetes
// carry its finalizer; it goes, so their deletion never waits on Neutron.
func TestKuryrKubernetesPodFinalizerIsRemoved(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID, running, func(p *corev1.Pod) {
		p.Finalizers = []string{"example.com/other", apiv1.PodFinalizer}
	}))
	e.mustReconcile(testPod)
	if pod := e.pod(testPod); len(pod.Finalizers) != 1 || pod.Finalizers[0] != "example.com/other" {
		t.Errorf("pod finalizers = %v, want only the other one", pod.Finalizers)
	}
	if len(e.os.Ports()) != 1 {
		t.Error("the pod got no port")
	}
}
