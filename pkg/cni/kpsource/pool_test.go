package kpsource

import (
	"context"
	"errors"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

func pool(name string, portIDs ...string) *apiv1.KuryrPortPool {
	kpp := &apiv1.KuryrPortPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: apiv1.KuryrPortPoolSpec{NodeName: name}}
	for _, id := range portIDs {
		kpp.Spec.Ports = append(kpp.Spec.Ports, apiv1.VIF{ID: id, VIFName: apiv1.VIFNameForPort(id)})
	}
	return kpp
}

func TestPoolIsTheNodesKuryrPortPool(t *testing.T) {
	f := newFixture(t, interceptor.Funcs{}, pool("node-2", "p2"), pool(node, "p1", "p3"))
	f.start(t)
	kpp, err := f.src.Pool(t.Context())
	if err != nil || kpp == nil || kpp.Name != node || len(kpp.Spec.Ports) != 2 || kpp.Spec.Ports[0].ID != "p1" {
		t.Fatalf("Pool = %+v, %v", kpp, err)
	}
	if err := f.src.PoolUnavailable(); err != nil {
		t.Fatalf("PoolUnavailable = %v", err)
	}

	f = newFixture(t, interceptor.Funcs{}, pool("node-2", "p2"))
	f.start(t)
	if kpp, err := f.src.Pool(t.Context()); kpp != nil || err != nil {
		t.Fatalf("Pool of a node without one = %+v, %v; want nil, nil", kpp, err)
	}

	f = newFixture(t, interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
		return errAPI
	}})
	f.start(t)
	if _, err := f.src.Pool(t.Context()); !errors.Is(err, errAPI) {
		t.Fatalf("Pool error = %v, want it to wrap %v", err, errAPI)
	}
}

// Without the KuryrPortPool CRD the daemon still serves pods: the pool reads as unavailable
// and its status is not written.
func TestPoolWithoutItsCRD(t *testing.T) {
	patched := false
	f := newFixture(t, interceptor.Funcs{SubResourcePatch: func(context.Context, client.Client, string, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
		patched = true
		return nil
	}}, pool(node, "p1"))
	f.cache.poolErr = errors.New(`no matches for kind "KuryrPortPool"`)
	f.start(t)
	if err := f.src.PoolUnavailable(); err == nil {
		t.Fatal("PoolUnavailable = nil without the informer")
	}
	if kpp, err := f.src.Pool(t.Context()); kpp != nil || !errors.Is(err, f.src.PoolUnavailable()) {
		t.Fatalf("Pool = %+v, %v; want the unavailability", kpp, err)
	}
	if err := f.src.SetPoolStatus(t.Context(), apiv1.KuryrPortPoolStatus{Free: 1}); err != nil || patched {
		t.Fatalf("SetPoolStatus = %v, patched %v; want a no-op", err, patched)
	}
}

func TestPodPortsAreTheRecordedPortIDs(t *testing.T) {
	f := newFixture(t, interceptor.Funcs{}, kuryrPort("a", "pod-1", "p1", "p2"), kuryrPort("b", "pod-2", "p3"), kuryrPort("b", "pod-3"))
	got, err := f.src.PodPorts(t.Context())
	if want := map[string]bool{"p1": true, "p2": true, "p3": true}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("PodPorts = %v, %v; want %v", got, err, want)
	}
	f = newFixture(t, interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
		return errAPI
	}})
	if _, err := f.src.PodPorts(t.Context()); !errors.Is(err, errAPI) {
		t.Fatalf("PodPorts error = %v, want it to wrap %v", err, errAPI)
	}
}

func TestSetPoolStatusWritesTheCountsOnly(t *testing.T) {
	f := newFixture(t, interceptor.Funcs{}, pool(node, "p1", "p2", "p3"), pool("node-2", "p4"))
	f.start(t)
	if err := f.src.SetPoolStatus(t.Context(), apiv1.KuryrPortPoolStatus{Free: 3, Plugged: 2}); err != nil {
		t.Fatal(err)
	}
	var kpp apiv1.KuryrPortPool
	if err := f.client.Get(t.Context(), types.NamespacedName{Name: node}, &kpp); err != nil {
		t.Fatal(err)
	}
	if kpp.Status != (apiv1.KuryrPortPoolStatus{Free: 3, Plugged: 2}) || len(kpp.Spec.Ports) != 3 {
		t.Fatalf("pool after SetPoolStatus: spec %d ports, status %+v", len(kpp.Spec.Ports), kpp.Status)
	}
	if err := f.client.Get(t.Context(), types.NamespacedName{Name: "node-2"}, &kpp); err != nil || kpp.Status.Plugged != 0 {
		t.Fatalf("another node's pool changed: %+v, %v", kpp.Status, err)
	}

	f = newFixture(t, interceptor.Funcs{})
	f.start(t)
	if err := f.src.SetPoolStatus(t.Context(), apiv1.KuryrPortPoolStatus{}); err == nil {
		t.Fatal("SetPoolStatus without a pool succeeded")
	}
}
