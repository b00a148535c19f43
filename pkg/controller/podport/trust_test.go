package podport

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

func kuryrPortOf(uid string) *apiv1.KuryrPort {
	return &apiv1.KuryrPort{
		ObjectMeta: metav1.ObjectMeta{Name: testPod, Namespace: testNS, Finalizers: []string{apiv1.KuryrPortFinalizer},
			Labels: map[string]string{apiv1.NodeNameLabel: testNode}},
		Spec: apiv1.KuryrPortSpec{PodUID: uid, PodNodeName: testNode},
	}
}

// TestForgedStatusVIFIsNotTrusted: a KuryrPort status naming a VM's port of another
// project (written by someone who can write KuryrPorts) gets that port neither re-bound,
// recorded, plugged nor deleted.
func TestForgedStatusVIFIsNotTrusted(t *testing.T) {
	for _, pools := range []bool{false, true} {
		e := newEnv(t, nil, newPod(testPod, testUID, running), kuryrPortOf(testUID))
		if pools {
			withPools(e, nil)
		}
		vm := e.os.AddPort(neutron.Port{Name: "vm1-port", NetworkID: "tenant-b-net", ProjectID: "tenant-b",
			DeviceOwner: "compute:nova", DeviceID: "vm-uuid-1", HostID: "compute-7", Status: "ACTIVE", VIFType: "ovs",
			MACAddress: "fa:16:3e:de:ad:01"})
		kp := e.kp(testPod)
		kp.Status.VIFs = map[string]apiv1.VIFStatus{"eth0": {Default: true, VIF: apiv1.VIF{ID: vm.ID}}}
		if err := e.k8s.Status().Update(context.Background(), kp); err != nil {
			t.Fatal(err)
		}
		_, _ = e.reconcile(testPod)
		if after := e.neutronPort(vm.ID); after == nil || after.HostID != "compute-7" || after.Name != "vm1-port" {
			t.Errorf("pools %v: foreign VM port changed: %+v", pools, after)
		}
		if got := e.kp(testPod).Status.VIFs["eth0"].VIF.ID; got == vm.ID {
			t.Errorf("pools %v: foreign port recorded as the pod's VIF", pools)
		}
		if !hasEvent(e.drainEvents(), apiv1.ReasonForeignResource) {
			t.Errorf("pools %v: no ForeignResource Event", pools)
		}
		// The forged ID written again, then the pod deleted: the port must survive.
		kp = e.kp(testPod)
		kp.Status.VIFs = map[string]apiv1.VIFStatus{"eth0": {Default: true, VIF: apiv1.VIF{ID: vm.ID}}}
		_ = e.k8s.Status().Update(context.Background(), kp)
		_ = e.k8s.Delete(context.Background(), e.pod(testPod))
		for i := 0; i < 3; i++ {
			_, _ = e.reconcile(testPod)
		}
		if after := e.neutronPort(vm.ID); after == nil || after.DeviceID != "vm-uuid-1" || after.HasTag("kuryr.openstack.org/pool=available") {
			t.Errorf("pools %v: foreign VM port deleted or pooled on pod deletion: %+v", pools, after)
		}
	}
}

// TestAdoptionIgnoresPortsOutsideThePodsNetwork: a port planted with the pod's UID in
// another project and network is neither adopted nor deleted as a duplicate.
func TestAdoptionIgnoresPortsOutsideThePodsNetwork(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID), kuryrPortOf(testUID))
	planted := e.os.AddPort(neutron.Port{Name: "planted", NetworkID: "attacker-net", ProjectID: "attacker",
		DeviceOwner: "compute:kuryr", DeviceID: testUID, MACAddress: "fa:16:3e:66:66:66"})
	sameNetOtherCluster := e.os.AddPort(neutron.Port{Name: "other", NetworkID: "net-1", ProjectID: "proj-1",
		DeviceOwner: "compute:kuryr", DeviceID: testUID, Tags: []string{"kuryr.openstack.org/cluster=other"}})
	e.mustReconcile(testPod)
	got := e.kp(testPod).Status.VIFs["eth0"].VIF.ID
	if got == planted.ID || got == sameNetOtherCluster.ID || got == "" {
		t.Errorf("recorded %q, want a new port", got)
	}
	for _, p := range []neutron.Port{planted, sameNetOtherCluster} {
		if e.neutronPort(p.ID) == nil {
			t.Errorf("port %s deleted", p.Name)
		}
	}
}

// TestTerminatingPodKeepsItsPort: a running pod keeps its port through its termination
// grace period (preStop hooks, draining); the port goes once its containers have stopped,
// or once the deadline plus the margin has passed (its node does not answer).
func TestTerminatingPodKeepsItsPort(t *testing.T) {
	for _, end := range []string{"containers stopped", "deadline passed"} {
		// The fake API server deletes at once what has no finalizer; this one stands for
		// the kubelet, which deletes the pod only after its containers stopped.
		e := newEnv(t, nil, newPod(testPod, testUID, running, func(p *corev1.Pod) { p.Finalizers = []string{"test/kubelet"} }))
		e.mustReconcile(testPod)
		_ = e.k8s.Delete(context.Background(), e.pod(testPod), client.GracePeriodSeconds(30))
		pod := e.pod(testPod)
		if pod == nil || pod.DeletionTimestamp == nil {
			t.Fatal("pod not terminating")
		}
		res := e.mustReconcile(testPod)
		if len(e.os.Ports()) != 1 {
			t.Fatalf("%s: port deleted as soon as the pod was marked for deletion", end)
		}
		if res.RequeueAfter <= 0 {
			t.Errorf("%s: no requeue at the deadline", end)
		}
		switch end {
		case "containers stopped":
			stopped(pod)
			if err := e.k8s.Status().Update(context.Background(), pod); err != nil {
				t.Fatal(err)
			}
		default:
			e.r.Now = func() time.Time { return pod.DeletionTimestamp.Add(DefaultTiming.TerminationMargin + time.Second) }
		}
		e.mustReconcile(testPod)
		if n := len(e.os.Ports()); n != 0 {
			t.Errorf("%s: %d ports left", end, n)
		}
	}
}

// TestTransientErrorsAreSurfaced: Neutron failing with 5xx gives a condition and an Event,
// and keeps the back-off.
func TestTransientErrorsAreSurfaced(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	e.os.Fail = func(op openstack.Op) error {
		if op == "create port" {
			return openstack.NewError(op, openstack.ClassTransient, "503 Service Unavailable")
		}
		return nil
	}
	for i := 0; i < 3; i++ {
		if _, err := e.reconcile(testPod); err == nil {
			t.Fatal("want an error for the back-off")
		}
	}
	c := findCondition(e.kp(testPod).Status.Conditions, apiv1.ConditionReady)
	if c == nil || c.Reason != apiv1.ReasonOpenStackUnavailable || c.Message != "503 Service Unavailable" {
		t.Errorf("Ready = %+v", c)
	}
	if !hasEvent(e.drainEvents(), "Warning "+apiv1.ReasonOpenStackUnavailable) {
		t.Error("no Event")
	}
}

type failedBinding struct{ neutron.Client }

func (f failedBinding) GetPort(ctx context.Context, id string) (*neutron.Port, error) {
	p, err := f.Client.GetPort(ctx, id)
	if p != nil {
		p.VIFType = neutron.VIFTypeBindingFailed
	}
	return p, err
}

// TestBindingFailureChurnIsBounded: a node Neutron never binds to costs a bounded number of
// ports, then the Ready condition says why, naming the host; no "deleted outside" Event.
func TestBindingFailureChurnIsBounded(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	e.r.Neutron = failedBinding{e.os}
	for i := 0; i < 40; i++ {
		_, _ = e.reconcile(testPod)
	}
	if n := e.os.Calls("create port"); n > maxReplacements+1 {
		t.Errorf("%d ports created for one pod whose node never binds", n)
	}
	c := findCondition(e.kp(testPod).Status.Conditions, apiv1.ConditionReady)
	if c == nil || c.Reason != apiv1.ReasonBindingFailed || !strings.Contains(c.Message, testNode) {
		t.Errorf("Ready = %+v", c)
	}
	if hasEvent(e.drainEvents(), apiv1.ReasonPortRecreated) {
		t.Error("a replacement was reported as a port deleted outside kuryr")
	}
}

// TestNoRecordLeftForAPodThatNeverGotItsKuryrPort: the KuryrPort of an earlier pod of the
// same name blocks the new one; what the controller remembers of the new pod goes too.
func TestNoRecordLeftForAPodThatNeverGotItsKuryrPort(t *testing.T) {
	old := kuryrPortOf("old-uid")
	now := metav1.Now()
	old.DeletionTimestamp = &now
	e := newEnv(t, nil, newPod(testPod, testUID), old)
	e.os.Fail = func(op openstack.Op) error { return openstack.NewError(op, openstack.ClassTransient, "down") }
	_, _ = e.reconcile(testPod)
	if _, _, err := e.r.createKuryrPort(context.Background(), e.pod(testPod)); err != nil {
		t.Fatal(err)
	}
	if rec := e.r.peek(testUID); rec != nil {
		t.Errorf("record of the new pod kept: %+v", rec)
	}
}

// TestKuryrPortDeletedWithItsTerminatingPodStaysUntilRelease: a foreground deletion of a
// pod deletes its KuryrPort while the containers still run; the KuryrPort must carry the
// port's release once they stop, not leave it behind.
func TestKuryrPortDeletedWithItsTerminatingPodStaysUntilRelease(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID, running, func(p *corev1.Pod) { p.Finalizers = []string{"test/kubelet"} }))
	e.mustReconcile(testPod)
	_ = e.k8s.Delete(context.Background(), e.pod(testPod), client.GracePeriodSeconds(30))
	_ = e.k8s.Delete(context.Background(), e.kp(testPod))
	e.mustReconcile(testPod)
	if e.kp(testPod) == nil || len(e.os.Ports()) != 1 {
		t.Fatal("KuryrPort or port gone while the pod's containers run")
	}
	pod := e.pod(testPod)
	stopped(pod)
	if err := e.k8s.Status().Update(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	e.mustReconcile(testPod)
	if e.kp(testPod) != nil || len(e.os.Ports()) != 0 {
		t.Errorf("after the containers stopped: KuryrPort %v, %d ports", e.kp(testPod) != nil, len(e.os.Ports()))
	}
}

// TestKuryrPortWithoutPodUIDReleasesNothing: a KuryrPort naming no pod UID (written by
// hand) cannot get a free pool port or any other port with an empty device_id released.
func TestKuryrPortWithoutPodUIDReleasesNothing(t *testing.T) {
	e := newEnv(t, nil, kuryrPortOf(""))
	free := freePoolPort(e)
	kp := e.kp(testPod)
	kp.Status.VIFs = map[string]apiv1.VIFStatus{"eth0": {Default: true, VIF: apiv1.VIF{ID: free.ID}}}
	if err := e.k8s.Status().Update(context.Background(), kp); err != nil {
		t.Fatal(err)
	}
	_, _ = e.reconcile(testPod)
	if p := e.neutronPort(free.ID); p == nil || e.os.Calls("update port") != 0 {
		t.Errorf("port %s released for a KuryrPort without a pod UID", free.ID)
	}
}

// TestPortOfATimedOutCreateIsReleasedToo: a create that timed out may still have been
// made by Neutron after the retry made another port; the pod's release finds it by the
// pod's UID, so no port is left for the orphan sweep.
func TestPortOfATimedOutCreateIsReleasedToo(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	creates := 0
	e.os.Fail = func(op openstack.Op) error {
		if op != "create port" {
			return nil
		}
		creates++
		switch creates {
		case 1: // the answer never arrives
			return openstack.NewError(op, openstack.ClassTransient, "context deadline exceeded")
		case 2: // meanwhile Neutron made the first port after all
			e.os.Fail = nil
			_, _ = e.os.CreatePort(context.Background(), e.r.createOpts(e.pod(testPod), e.r.Networks.Targets()[0]))
		}
		return nil
	}
	_, _ = e.reconcile(testPod)
	e.mustReconcile(testPod)
	if n := len(e.os.Ports()); n != 2 {
		t.Fatalf("%d ports, want the late one and the recorded one", n)
	}
	_ = e.k8s.Delete(context.Background(), e.pod(testPod))
	e.mustReconcile(testPod)
	if n := len(e.os.Ports()); n != 0 {
		t.Errorf("%d ports left after the pod went", n)
	}
}
