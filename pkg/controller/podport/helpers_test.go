package podport

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/controller/podnet"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/fake"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/vif"
)

const (
	testNS   = "default"
	testPod  = "web-1"
	testUID  = "11111111-2222-3333-4444-555555555555"
	testNode = "kuryr-node"
)

// env is one reconciler wired to a fake API server and a fake Neutron.
type env struct {
	t      *testing.T
	r      *Reconciler
	k8s    client.Client
	os     *fake.Neutron
	events *events.FakeRecorder
	// trace records OpenStack operations and Kubernetes writes in order.
	mu    sync.Mutex
	trace []string
}

func newPod(name, uid string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: testNS, UID: types.UID(uid),
			CreationTimestamp: metav1.NewTime(time.Now().Add(-time.Second)),
		},
		Spec:   corev1.PodSpec{NodeName: testNode, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func newEnv(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) *env {
	t.Helper()
	e := &env{t: t, os: fake.New(), events: events.NewFakeRecorder(100)}
	e.os.Fail = func(op openstack.Op) error { e.record(string(op)); return nil }
	f := interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			e.record("patch " + kind(obj))
			return c.Patch(ctx, obj, patch, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			e.record("patch status " + kind(obj))
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	}
	if funcs != nil {
		f = *funcs
	}
	e.k8s = crfake.NewClientBuilder().WithScheme(testScheme()).
		WithStatusSubresource(&apiv1.KuryrPort{}).
		WithObjects(objs...).
		WithInterceptorFuncs(f).
		Build()
	e.r = &Reconciler{
		Client:   e.k8s,
		Neutron:  e.os,
		Recorder: e.events,
		Networks: &podnet.Static{T: &podnet.Target{
			ProjectID: "proj-1",
			Network:   &neutron.Network{ID: "net-1", MTU: 1450},
			Subnets: []*neutron.Subnet{{ID: "subnet-1", NetworkID: "net-1", CIDR: "10.0.0.64/26",
				GatewayIP: "10.0.0.65", DNSNameservers: []string{"10.0.0.2"}}},
			SecurityGroups: []string{"sg-1", "sg-2"},
		}},
		ClusterID:    "test-cluster",
		ResourceTags: []string{"extra"},
		VIF:          vif.Options{OVSBridge: "br-int"},
		Timing:       Timing{QuotaRetry: 30 * time.Second},
	}
	return e
}

func testScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = apiv1.AddToScheme(s)
	return s
}

func kind(obj client.Object) string {
	switch obj.(type) {
	case *corev1.Pod:
		return "Pod"
	case *apiv1.KuryrPort:
		return "KuryrPort"
	}
	return "?"
}

func (e *env) record(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.trace = append(e.trace, s)
}

func (e *env) traceIndex(s string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, x := range e.trace {
		if x == s {
			return i
		}
	}
	return -1
}

func (e *env) reconcile(name string) (ctrl.Result, error) {
	e.t.Helper()
	return e.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: testNS, Name: name}})
}

func (e *env) mustReconcile(name string) ctrl.Result {
	e.t.Helper()
	res, err := e.reconcile(name)
	if err != nil {
		e.t.Fatalf("Reconcile: %v", err)
	}
	return res
}

func (e *env) pod(name string) *corev1.Pod {
	e.t.Helper()
	p := &corev1.Pod{}
	if err := e.k8s.Get(context.Background(), types.NamespacedName{Namespace: testNS, Name: name}, p); err != nil {
		return nil
	}
	return p
}

func (e *env) kp(name string) *apiv1.KuryrPort {
	e.t.Helper()
	kp := &apiv1.KuryrPort{}
	if err := e.k8s.Get(context.Background(), types.NamespacedName{Namespace: testNS, Name: name}, kp); err != nil {
		return nil
	}
	return kp
}

// drainEvents returns the events posted so far.
func (e *env) drainEvents() []string {
	var out []string
	for {
		select {
		case ev := <-e.events.Events:
			out = append(out, ev)
		default:
			return out
		}
	}
}

func hasEvent(evs []string, substr string) bool {
	for _, ev := range evs {
		if strings.Contains(ev, substr) {
			return true
		}
	}
	return false
}

type portSpec = neutron.Port

// running gives the pod a running container.
func running(p *corev1.Pod) {
	p.Status.Phase = corev1.PodRunning
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
		Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
}

// stopped gives the pod a terminated container (its phase is not updated yet).
func stopped(p *corev1.Pod) {
	p.Status.Phase = corev1.PodRunning
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}}
}
