package kpsource

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllertest"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

const node = "node-1"

var errAPI = errors.New("API server unreachable")

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := apiv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeCache answers reads from a fake client and hands out fake informers whose events the
// test triggers; poolErr makes the KuryrPortPool informer unavailable, as when its CRD is
// not installed.
type fakeCache struct {
	*informertest.FakeInformers
	reader  client.Reader
	poolErr error
}

func (c *fakeCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.reader.Get(ctx, key, obj, opts...)
}

func (c *fakeCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.reader.List(ctx, list, opts...)
}

func (c *fakeCache) GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error) {
	if _, ok := obj.(*apiv1.KuryrPortPool); ok && c.poolErr != nil {
		return nil, c.poolErr
	}
	return c.FakeInformers.GetInformer(ctx, obj, opts...)
}

func (c *fakeCache) informer(t *testing.T, obj client.Object) *controllertest.FakeInformer {
	t.Helper()
	inf, err := c.FakeInformerFor(context.Background(), obj)
	if err != nil {
		t.Fatal(err)
	}
	return inf
}

type fixture struct {
	src       *Source
	cache     *fakeCache
	client    client.Client
	clientset *k8sfake.Clientset
}

// newFixture is a Source over fakes holding objs; funcs intercept the client's calls.
func newFixture(t *testing.T, funcs interceptor.Funcs, objs ...client.Object) *fixture {
	t.Helper()
	s := testScheme(t)
	cl := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithStatusSubresource(&apiv1.KuryrPortPool{}).WithInterceptorFuncs(funcs).Build()
	fc := &fakeCache{FakeInformers: &informertest.FakeInformers{Scheme: s}, reader: cl}
	cs := k8sfake.NewClientset()
	return &fixture{src: newSource(fc, cs, cl, node), cache: fc, client: cl, clientset: cs}
}

func (f *fixture) start(t *testing.T) {
	t.Helper()
	errc := make(chan error, 1)
	if err := f.src.Start(t.Context(), errc); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("cache: %v", err)
	}
}

func kuryrPort(ns, name string, portIDs ...string) *apiv1.KuryrPort {
	kp := &apiv1.KuryrPort{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{apiv1.NodeNameLabel: node}},
		Spec:       apiv1.KuryrPortSpec{PodUID: "uid-" + name, PodNodeName: node},
	}
	for i, id := range portIDs {
		if kp.Status.VIFs == nil {
			kp.Status.VIFs = map[string]apiv1.VIFStatus{}
		}
		ifName := "eth" + string(rune('0'+i))
		kp.Status.VIFs[ifName] = apiv1.VIFStatus{Default: i == 0, VIF: apiv1.VIF{ID: id, VIFName: apiv1.VIFNameForPort(id)}}
	}
	return kp
}

func TestCacheKeepsTheNodesObjectsOnly(t *testing.T) {
	opts := cacheOptions(testScheme(t), node)
	var kpSel labels.Selector
	var poolSel fields.Selector
	for obj, by := range opts.ByObject {
		switch obj.(type) {
		case *apiv1.KuryrPort:
			kpSel = by.Label
		case *apiv1.KuryrPortPool:
			poolSel = by.Field
		}
	}
	if kpSel == nil || poolSel == nil {
		t.Fatalf("selectors: KuryrPort %v, KuryrPortPool %v", kpSel, poolSel)
	}
	if !kpSel.Matches(labels.Set{apiv1.NodeNameLabel: node}) || kpSel.Matches(labels.Set{apiv1.NodeNameLabel: "node-2"}) ||
		kpSel.Matches(labels.Set{}) {
		t.Errorf("KuryrPort selector %q", kpSel)
	}
	if !poolSel.Matches(fields.Set{"metadata.name": node}) || poolSel.Matches(fields.Set{"metadata.name": "node-2"}) {
		t.Errorf("KuryrPortPool selector %q", poolSel)
	}
	kp := kuryrPort("ns", "pod")
	kp.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kuryr-controller"}}
	out, err := opts.DefaultTransform(kp)
	if err != nil || len(out.(*apiv1.KuryrPort).ManagedFields) != 0 {
		t.Errorf("transform kept managed fields: %v", err)
	}
}

// New looks the kinds up in the API server (the cache needs to know which are namespaced).
func TestNewFailsWithoutTheAPIServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	src, err := New(&rest.Config{Host: srv.URL}, node)
	if err == nil || src != nil || !strings.Contains(err.Error(), "creating the KuryrPort cache") {
		t.Fatalf("New = %v, %v; want the cache error", src, err)
	}
}

func TestGetPort(t *testing.T) {
	want := kuryrPort("ns", "pod", "68371534-2456-4f4d-861d-8936ec6595cb")
	f := newFixture(t, interceptor.Funcs{}, want)
	kp, err := f.src.GetPort(t.Context(), "ns", "pod")
	if err != nil || kp == nil || kp.Status.VIFs["eth0"].VIF.ID != want.Status.VIFs["eth0"].VIF.ID {
		t.Fatalf("GetPort = %+v, %v", kp, err)
	}
	if kp, err := f.src.GetPort(t.Context(), "ns", "other"); kp != nil || err != nil {
		t.Fatalf("GetPort of a missing KuryrPort = %+v, %v; want nil, nil", kp, err)
	}
	failing := newFixture(t, interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
		return errAPI
	}})
	if _, err := failing.src.GetPort(t.Context(), "ns", "pod"); !errors.Is(err, errAPI) {
		t.Fatalf("GetPort error = %v, want it to wrap %v", err, errAPI)
	}
}

// waitClosed fails unless ch is closed soon.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("no change signalled after %s", what)
	}
}

func TestEveryKuryrPortAndPoolEventSignalsAChange(t *testing.T) {
	f := newFixture(t, interceptor.Funcs{})
	f.start(t)
	kps, pools := f.cache.informer(t, &apiv1.KuryrPort{}), f.cache.informer(t, &apiv1.KuryrPortPool{})
	kp, kpp := kuryrPort("ns", "pod"), &apiv1.KuryrPortPool{ObjectMeta: metav1.ObjectMeta{Name: node}}
	for _, ev := range []struct {
		what string
		fire func()
	}{
		{"a KuryrPort added", func() { kps.Add(kp) }},
		{"a KuryrPort updated", func() { kps.Update(kp, kp) }},
		{"a KuryrPort deleted", func() { kps.Delete(kp) }},
		{"the pool added", func() { pools.Add(kpp) }},
		{"the pool updated", func() { pools.Update(kpp, kpp) }},
	} {
		ch := f.src.Changed()
		select {
		case <-ch:
			t.Fatalf("before %s: change already signalled", ev.what)
		default:
		}
		ev.fire()
		waitClosed(t, ch, ev.what)
		if f.src.Changed() == ch {
			t.Fatalf("after %s: the next wait gets the closed channel", ev.what)
		}
	}
}

func TestStartFails(t *testing.T) {
	f := newFixture(t, interceptor.Funcs{})
	f.cache.Error = errAPI
	if err := f.src.Start(t.Context(), make(chan error, 1)); !errors.Is(err, errAPI) {
		t.Fatalf("Start without a KuryrPort informer = %v, want it to wrap %v", err, errAPI)
	}
	f = newFixture(t, interceptor.Funcs{})
	notSynced := false
	f.cache.Synced = &notSynced
	if err := f.src.Start(t.Context(), make(chan error, 1)); err == nil {
		t.Fatal("Start with a cache that does not sync succeeded")
	}
}

func TestPodUID(t *testing.T) {
	f := newFixture(t, interceptor.Funcs{})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "pod", UID: "uid-1"}}
	if _, err := f.clientset.CoreV1().Pods("ns").Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if uid, ok, err := f.src.PodUID(t.Context(), "ns", "pod"); uid != "uid-1" || !ok || err != nil {
		t.Fatalf("PodUID = %q, %v, %v", uid, ok, err)
	}
	if uid, ok, err := f.src.PodUID(t.Context(), "ns", "gone"); uid != "" || ok || err != nil {
		t.Fatalf("PodUID of a missing pod = %q, %v, %v; want not found without error", uid, ok, err)
	}
	f.clientset.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, errAPI })
	if _, _, err := f.src.PodUID(t.Context(), "ns", "pod"); !errors.Is(err, errAPI) {
		t.Fatalf("PodUID error = %v, want it to wrap %v", err, errAPI)
	}
}

func TestAPIHealthyAsksReadyz(t *testing.T) {
	var ready atomic.Bool
	ready.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/readyz":
			http.NotFound(w, r)
		case ready.Load():
			_, _ = w.Write([]byte("ok"))
		default:
			http.Error(w, "[-]etcd failed", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	src := newSource(nil, cs, nil, node)
	if err := src.APIHealthy(t.Context()); err != nil {
		t.Fatalf("ready API server: %v", err)
	}
	ready.Store(false)
	if err := src.APIHealthy(t.Context()); err == nil {
		t.Fatal("an API server that is not ready counts as healthy")
	}
}
