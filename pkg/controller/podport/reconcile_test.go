package podport

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// TestCreatesPortWithKuryrFields checks the whole happy path: finalizer, KuryrPort, one port
// with kuryr's fields, the VIF in status, then ACTIVE.
func TestCreatesPortWithKuryrFields(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	res := e.mustReconcile(testPod)
	if res.RequeueAfter <= 0 || res.RequeueAfter > time.Second {
		t.Errorf("RequeueAfter = %v, want a short ACTIVE poll", res.RequeueAfter)
	}
	if pod := e.pod(testPod); len(pod.Finalizers) != 0 {
		t.Errorf("pod finalizers = %v, want none", pod.Finalizers)
	}
	kp := e.kp(testPod)
	if kp == nil {
		t.Fatal("no KuryrPort")
	}
	if kp.Labels[apiv1.NodeNameLabel] != testNode || kp.Spec.PodUID != testUID || kp.Spec.PodNodeName != testNode ||
		!hasFinalizer(kp, apiv1.KuryrPortFinalizer) || len(kp.OwnerReferences) != 1 || kp.OwnerReferences[0].UID != testUID {
		t.Errorf("KuryrPort = %+v", kp.ObjectMeta)
	}
	ports := e.os.Ports()
	if len(ports) != 1 {
		t.Fatalf("%d ports, want 1", len(ports))
	}
	p := ports[0]
	if p.Name != testPod || p.DeviceOwner != "compute:kuryr" || p.DeviceID != testUID || p.HostID != testNode ||
		p.ProjectID != "proj-1" || p.NetworkID != "net-1" || p.FixedIPs[0].SubnetID != "subnet-1" ||
		!reflect.DeepEqual(p.SecurityGroups, []string{"sg-1", "sg-2"}) {
		t.Errorf("port = %+v", p)
	}
	wantTags := []string{"kuryr.openstack.org/cluster=test-cluster", "kuryr.openstack.org/pod-uid=" + testUID, "extra"}
	if !reflect.DeepEqual(p.Tags, wantTags) {
		t.Errorf("tags = %v, want %v", p.Tags, wantTags)
	}
	vs, ok := kp.Status.VIFs["eth0"]
	if !ok || !vs.Default {
		t.Fatalf("status.vifs = %+v", kp.Status.VIFs)
	}
	v := vs.VIF
	if v.ID != p.ID || v.Address != p.MACAddress || v.MTU != 1450 || v.Bridge != "br-int" ||
		v.PlugMode != apiv1.PlugModeNative || v.VIFName != apiv1.VIFNameForPort(p.ID) || v.Active ||
		len(v.Subnets) != 1 || v.Subnets[0].CIDR != "10.0.0.64/26" || v.Subnets[0].Gateway != "10.0.0.65" ||
		v.Subnets[0].IPs[0] != p.FixedIPs[0].IPAddress || v.Subnets[0].DNS[0] != "10.0.0.2" {
		t.Errorf("vif = %+v", v)
	}
	if c := meta.FindStatusCondition(kp.Status.Conditions, apiv1.ConditionReady); c == nil || c.Status != metav1.ConditionFalse || c.Reason != apiv1.ReasonWaitingActive {
		t.Errorf("Ready = %+v", c)
	}
	evs := e.drainEvents()
	if !hasEvent(evs, "Normal PortCreated") || !hasEvent(evs, "Normal WaitingForActivePort") {
		t.Errorf("events = %v", evs)
	}

	// Not active yet: polling costs one GET and no create.
	e.mustReconcile(testPod)
	if n := e.os.Calls("create port"); n != 1 {
		t.Errorf("%d creates, want 1", n)
	}
	e.os.SetPortStatus(p.ID, neutron.PortStatusActive, "")
	if res := e.mustReconcile(testPod); !res.IsZero() {
		t.Errorf("result after ACTIVE = %+v, want done", res)
	}
	kp = e.kp(testPod)
	if !kp.Status.VIFs["eth0"].VIF.Active {
		t.Error("VIF not marked active")
	}
	if c := meta.FindStatusCondition(kp.Status.Conditions, apiv1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Ready = %+v", c)
	}
	if c := meta.FindStatusCondition(kp.Status.Conditions, apiv1.ConditionProgressing); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("Progressing = %+v", c)
	}
	if n := e.os.Calls("list ports"); n != 0 {
		t.Errorf("%d list calls on the hot path, want 0", n)
	}
}

func TestIgnoresHostNetworkAndUnscheduledPods(t *testing.T) {
	e := newEnv(t, nil,
		newPod("host", "u-host", func(p *corev1.Pod) { p.Spec.HostNetwork = true }),
		newPod("pending", "u-pending", func(p *corev1.Pod) { p.Spec.NodeName = "" }))
	for _, name := range []string{"host", "pending", "missing"} {
		if res := e.mustReconcile(name); !res.IsZero() {
			t.Errorf("%s: result %+v", name, res)
		}
		if e.kp(name) != nil {
			t.Errorf("%s: KuryrPort created", name)
		}
	}
	if pod := e.pod("host"); len(pod.Finalizers) != 0 {
		t.Errorf("hostNetwork pod got finalizers %v", pod.Finalizers)
	}
	if len(e.os.Ports()) != 0 {
		t.Error("ports created")
	}
}

// TestAdoptsPortAfterCrash: the port was created, then the controller died before writing
// the status. The next reconcile must find it by device_id and not create a second one.
func TestAdoptsPortAfterCrash(t *testing.T) {
	pod := newPod(testPod, testUID, func(p *corev1.Pod) { p.Finalizers = []string{apiv1.PodFinalizer} })
	kp := &apiv1.KuryrPort{
		ObjectMeta: metav1.ObjectMeta{Name: testPod, Namespace: testNS, Finalizers: []string{apiv1.KuryrPortFinalizer}},
		Spec:       apiv1.KuryrPortSpec{PodUID: testUID, PodNodeName: testNode},
	}
	e := newEnv(t, nil, pod, kp)
	orphan := e.os.AddPort(neutron.Port{Name: testPod, DeviceID: testUID, DeviceOwner: "compute:kuryr",
		HostID: testNode, NetworkID: "net-1", ProjectID: "proj-1", Status: "DOWN", Tags: []string{"kuryr.openstack.org/cluster=test-cluster"}})
	e.mustReconcile(testPod)
	if n := e.os.Calls("create port"); n != 0 {
		t.Fatalf("%d creates after crash, want 0 (adoption)", n)
	}
	if got := e.kp(testPod).Status.VIFs["eth0"].VIF.ID; got != orphan.ID {
		t.Errorf("recorded port %q, want adopted %q", got, orphan.ID)
	}
	ports := e.os.Ports()
	if len(ports) != 1 || !ports[0].HasTag("kuryr.openstack.org/pod-uid="+testUID) {
		t.Errorf("ports = %+v (adopted port should get the missing tags)", ports)
	}
	if !hasEvent(e.drainEvents(), "PortAdopted") {
		t.Error("no PortAdopted event")
	}
}

// TestListErrorNeverCreates: when Neutron cannot say whether a port exists, nothing is created.
func TestListErrorNeverCreates(t *testing.T) {
	pod := newPod(testPod, testUID, func(p *corev1.Pod) { p.Finalizers = []string{apiv1.PodFinalizer} })
	kp := &apiv1.KuryrPort{
		ObjectMeta: metav1.ObjectMeta{Name: testPod, Namespace: testNS, Finalizers: []string{apiv1.KuryrPortFinalizer}},
		Spec:       apiv1.KuryrPortSpec{PodUID: testUID, PodNodeName: testNode},
	}
	e := newEnv(t, nil, pod, kp)
	e.os.Fail = func(op openstack.Op) error {
		if op == "list ports" {
			return openstack.NewError(op, openstack.ClassTransient, "503 Service Unavailable")
		}
		return nil
	}
	_, err := e.reconcile(testPod)
	if err == nil || openstack.ClassOf(err) != openstack.ClassTransient {
		t.Fatalf("Reconcile error = %v, want the transient list error for back-off", err)
	}
	if n := e.os.Calls("create port"); n != 0 {
		t.Fatalf("%d creates after a failed list, want 0", n)
	}
}

func TestTransientCreateErrorBacksOff(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	e.os.Fail = func(op openstack.Op) error {
		if op == "create port" {
			return openstack.NewError(op, openstack.ClassTransient, "connection refused")
		}
		return nil
	}
	if _, err := e.reconcile(testPod); err == nil {
		t.Fatal("want an error so the work queue backs off")
	}
	e.os.Fail = nil
	e.mustReconcile(testPod)
	if n := len(e.os.Ports()); n != 1 {
		t.Fatalf("%d ports after recovery, want 1", n)
	}
}

func TestRecreatesPortDeletedBehindOurBack(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	e.mustReconcile(testPod)
	first := e.kp(testPod).Status.VIFs["eth0"].VIF.ID
	e.os.RemovePort(first)
	e.drainEvents()
	e.mustReconcile(testPod)
	ports := e.os.Ports()
	if len(ports) != 1 || ports[0].ID == first {
		t.Fatalf("ports = %+v, want one new port", ports)
	}
	if got := e.kp(testPod).Status.VIFs["eth0"].VIF.ID; got != ports[0].ID {
		t.Errorf("recorded %q, want new port %q", got, ports[0].ID)
	}
	if !hasEvent(e.drainEvents(), "Warning PortRecreated") {
		t.Error("no PortRecreated event")
	}
}

func TestQuotaExceededReportsAndRetriesSlowly(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	e.os.PortQuota = 1
	e.os.AddPort(neutron.Port{Name: "someone-else"})
	res, err := e.reconcile(testPod)
	if err != nil {
		t.Fatalf("quota must not be a back-off error: %v", err)
	}
	if res.RequeueAfter != 30*time.Second {
		t.Errorf("RequeueAfter = %v, want the quota retry interval", res.RequeueAfter)
	}
	if !hasEvent(e.drainEvents(), "Warning QuotaExceeded") {
		t.Error("no QuotaExceeded event")
	}
	c := meta.FindStatusCondition(e.kp(testPod).Status.Conditions, apiv1.ConditionReady)
	if c == nil || c.Reason != apiv1.ReasonQuotaExceeded || c.Status != metav1.ConditionFalse {
		t.Errorf("Ready = %+v", c)
	}
	e.os.PortQuota = 0
	e.mustReconcile(testPod)
	if n := len(e.os.Ports()); n != 2 {
		t.Errorf("%d ports after the quota was raised, want 2", n)
	}
	c = meta.FindStatusCondition(e.kp(testPod).Status.Conditions, apiv1.ConditionReady)
	if c == nil || c.Reason != apiv1.ReasonWaitingActive {
		t.Errorf("Ready after recovery = %+v", c)
	}
}

func TestSubnetExhaustedAndTerminalErrors(t *testing.T) {
	for _, tc := range []struct {
		class  openstack.Class
		reason string
		retry  time.Duration
	}{
		{openstack.ClassSubnetExhausted, apiv1.ReasonSubnetFull, 30 * time.Second},
		{openstack.ClassTerminal, apiv1.ReasonOpenStackError, DefaultTiming.TerminalRetry},
		{openstack.ClassUnauthorized, apiv1.ReasonAuthenticationFailed, DefaultTiming.TerminalRetry},
		{openstack.ClassForbidden, apiv1.ReasonPermissionDenied, DefaultTiming.TerminalRetry},
		// The subnet, network or a security group of the configuration was deleted.
		{openstack.ClassNotFound, apiv1.ReasonInvalidConfig, DefaultTiming.TerminalRetry},
	} {
		e := newEnv(t, nil, newPod(testPod, testUID))
		e.os.Fail = func(op openstack.Op) error {
			if op == "create port" {
				return openstack.NewError(op, tc.class, "no")
			}
			return nil
		}
		res, err := e.reconcile(testPod)
		if err != nil || res.RequeueAfter != tc.retry {
			t.Errorf("%s: result %+v, %v", tc.class, res, err)
		}
		if !hasEvent(e.drainEvents(), "Warning "+tc.reason) {
			t.Errorf("%s: no %s event", tc.class, tc.reason)
		}
		if c := findCondition(e.kp(testPod).Status.Conditions, apiv1.ConditionReady); c == nil || c.Reason != tc.reason {
			t.Errorf("%s: Ready condition = %+v", tc.class, c)
		}
	}
}

func TestBindingFailedIsRetriggered(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	e.mustReconcile(testPod)
	id := e.kp(testPod).Status.VIFs["eth0"].VIF.ID
	e.os.SetPortStatus(id, "DOWN", neutron.VIFTypeBindingFailed)
	e.mustReconcile(testPod)
	if n := e.os.Calls("update port"); n != 1 {
		t.Fatalf("%d port updates, want 1 re-bind", n)
	}
	if !hasEvent(e.drainEvents(), "Warning PortBindingFailed") {
		t.Error("no PortBindingFailed event")
	}
	// Still failing after maxRebinds attempts: the port is replaced.
	for i := 0; i < maxRebinds+1; i++ {
		e.os.SetPortStatus(id, "DOWN", neutron.VIFTypeBindingFailed)
		e.mustReconcile(testPod)
	}
	e.mustReconcile(testPod)
	ports := e.os.Ports()
	if len(ports) != 1 || ports[0].ID == id {
		t.Fatalf("ports = %+v, want the unbindable port replaced", ports)
	}
}
