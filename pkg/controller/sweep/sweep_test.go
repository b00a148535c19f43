package sweep

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/controller/podnet"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/fake"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

func TestSweepOnce(t *testing.T) {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = apiv1.AddToScheme(s)
	now := time.Now()
	old, young := now.Add(-10*time.Minute), now.Add(-10*time.Second)
	osc := fake.New()
	tag := ownership.ClusterTag("c1")
	port := func(name, uid string, created time.Time, owner string, tags ...string) neutron.Port {
		return osc.AddPort(neutron.Port{Name: name, DeviceID: uid, DeviceOwner: owner, CreatedAt: created,
			NetworkID: "net-1", ProjectID: "proj-1",
			Tags: append([]string{tag, ownership.PodUIDTag(uid)}, tags...)})
	}
	recorded := port("recorded", "uid-rec", old, "compute:kuryr")
	orphanOld := port("orphan-old", "uid-gone", old, "compute:kuryr")
	orphanYoung := port("orphan-young", "uid-gone2", young, "compute:kuryr")
	unrecorded := port("live-unrecorded", "uid-live", old, "compute:kuryr")
	notPod := port("pool", "", old, "")
	otherCluster := osc.AddPort(neutron.Port{Name: "other", DeviceOwner: "compute:kuryr", CreatedAt: old,
		NetworkID: "net-1", ProjectID: "proj-1",
		Tags: []string{ownership.ClusterTag("c2")}})

	kp := func(name, uid, portID string) *apiv1.KuryrPort {
		k := &apiv1.KuryrPort{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Spec: apiv1.KuryrPortSpec{PodUID: uid}}
		if portID != "" {
			k.Status.VIFs = map[string]apiv1.VIFStatus{"eth0": {Default: true, VIF: apiv1.VIF{ID: portID}}}
		}
		return k
	}
	live := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "live", Namespace: "ns", UID: "uid-live"}}
	k8s := crfake.NewClientBuilder().WithScheme(s).WithObjects(
		kp("recorded", "uid-rec", recorded.ID), kp("missing", "uid-missing", "port-vanished"), live).Build()

	var enqueued []types.NamespacedName
	sw := &Sweeper{Reader: k8s, Neutron: osc, ClusterID: "c1", Networks: testNetworks, Grace: 5 * time.Minute, Now: func() time.Time { return now },
		Enqueue: func(k types.NamespacedName) { enqueued = append(enqueued, k) }}
	res, err := sw.SweepOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, p := range osc.Ports() {
		left = append(left, p.ID)
	}
	for _, keep := range []neutron.Port{recorded, orphanYoung, unrecorded, notPod, otherCluster} {
		if !slices.Contains(left, keep.ID) {
			t.Errorf("port %s (%s) deleted, want kept", keep.Name, keep.ID)
		}
	}
	if slices.Contains(left, orphanOld.ID) {
		t.Error("old orphan not deleted")
	}
	if res.Deleted != 1 || res.Missing != 1 || res.Referenced != 1 {
		t.Errorf("result = %+v", res)
	}
	if len(enqueued) != 1 || enqueued[0].Name != "missing" {
		t.Errorf("enqueued = %v, want the KuryrPort whose port vanished", enqueued)
	}

	// A failed list deletes nothing.
	osc.AddPort(neutron.Port{Name: "orphan-2", DeviceID: "uid-x", DeviceOwner: "compute:kuryr", CreatedAt: old, Tags: []string{tag}})
	before := len(osc.Ports())
	osc.Fail = func(op openstack.Op) error {
		if op == "list ports" {
			return openstack.NewError(op, openstack.ClassTransient, "503")
		}
		return nil
	}
	if _, err := sw.SweepOnce(context.Background()); err == nil {
		t.Fatal("want the list error")
	}
	if len(osc.Ports()) != before || osc.Calls("delete port") != 1 {
		t.Error("ports deleted after a failed list")
	}
}

func TestSweepKeepsFreePoolPortsUnlessTheirNodeIsGone(t *testing.T) {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = apiv1.AddToScheme(s)
	now := time.Now()
	old := now.Add(-10 * time.Minute)
	osc := fake.New()
	poolPort := func(host string, created time.Time) neutron.Port {
		return osc.AddPort(neutron.Port{Name: ownership.PoolPortName, HostID: host, DeviceOwner: "compute:kuryr", NetworkID: "net-1", ProjectID: "proj-1",
			Status: neutron.PortStatusDown, CreatedAt: created, Tags: ownership.PoolPortTags("c1", nil)})
	}
	free := poolPort("node-1", old)
	gone := poolPort("node-removed", old)
	goneYoung := poolPort("node-removed", now.Add(-time.Second))
	k8s := crfake.NewClientBuilder().WithScheme(s).WithObjects(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}).Build()
	sw := &Sweeper{Reader: k8s, Neutron: osc, ClusterID: "c1", Networks: testNetworks, Grace: 5 * time.Minute, Now: func() time.Time { return now }}
	res, err := sw.SweepOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, p := range osc.Ports() {
		left = append(left, p.ID)
	}
	if !slices.Contains(left, free.ID) || !slices.Contains(left, goneYoung.ID) {
		t.Errorf("free pool port deleted: left %v", left)
	}
	if slices.Contains(left, gone.ID) || res.Deleted != 1 {
		t.Errorf("pool port of a removed node kept: left %v, deleted %d", left, res.Deleted)
	}

	// Without any node listed nothing is collected: an empty list proves nothing.
	empty := crfake.NewClientBuilder().WithScheme(s).Build()
	sw.Reader = empty
	if res, err := sw.SweepOnce(context.Background()); err != nil || res.Deleted != 0 {
		t.Errorf("sweep without nodes: %+v, %v", res, err)
	}
}

func TestDryRunDeletesNothing(t *testing.T) {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = apiv1.AddToScheme(s)
	osc := fake.New()
	old := time.Now().Add(-time.Hour)
	orphan := osc.AddPort(neutron.Port{Name: "orphan", DeviceID: "uid-gone", DeviceOwner: "compute:kuryr", CreatedAt: old,
		NetworkID: "net-1", ProjectID: "proj-1", Tags: []string{ownership.ClusterTag("c1"), ownership.PodUIDTag("uid-gone")}})
	sw := &Sweeper{Reader: crfake.NewClientBuilder().WithScheme(s).Build(), Neutron: osc, ClusterID: "c1", Networks: testNetworks,
		Grace: time.Minute, DryRun: true}
	res, err := sw.SweepOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if osc.Calls("delete port") != 0 || res.Deleted != 0 {
		t.Fatalf("dry run deleted: %d calls, result %+v", osc.Calls("delete port"), res)
	}
	if len(res.Collected) != 1 || res.Collected[0].PortID != orphan.ID || res.Collected[0].Reason == "" {
		t.Fatalf("collected = %+v", res.Collected)
	}
	sw.DryRun = false
	if res, err = sw.SweepOnce(context.Background()); err != nil || res.Deleted != 1 || len(osc.Ports()) != 0 {
		t.Fatalf("real run: %+v %v, ports left %d", res, err, len(osc.Ports()))
	}
}

var testNetworks = &podnet.Static{T: &podnet.Target{ProjectID: "proj-1", Network: &neutron.Network{ID: "net-1"}}}

// TestSweepSparesPortsOutsideItsNetworks: a port with the same cluster tag in another
// project and network (another cluster that chose the same cluster_id, or ports a user
// tagged) is never looked at.
func TestSweepSparesPortsOutsideItsNetworks(t *testing.T) {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = apiv1.AddToScheme(s)
	osc := fake.New()
	other := osc.AddPort(neutron.Port{Name: "b-web-0", ProjectID: "project-b", NetworkID: "net-b",
		DeviceID: "uid-of-b-pod", DeviceOwner: neutron.DeviceOwnerKuryr, CreatedAt: time.Now().Add(-time.Hour),
		Tags: ownership.PortTags("c1", "uid-of-b-pod", nil)})
	k8s := crfake.NewClientBuilder().WithScheme(s).Build()
	sw := &Sweeper{Reader: k8s, Neutron: osc, ClusterID: "c1", Networks: testNetworks, Grace: 5 * time.Minute}
	if _, err := sw.SweepOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := osc.GetPort(context.Background(), other.ID); err != nil {
		t.Errorf("the sweep deleted a port of another project and network: %v", err)
	}
	if _, err := (&Sweeper{Reader: k8s, Neutron: osc, Networks: testNetworks}).SweepOnce(context.Background()); err == nil {
		t.Error("a sweep without a cluster ID ran")
	}
}
