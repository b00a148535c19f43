//go:build integration

package integration

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/controller/app"
	"github.com/kuryr-go/kuryr-go/pkg/controller/pool"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

// TestPoolPodTakesPooledPortAndGivesItBack: with vif_pool_driver = neutron a pod gets a
// prefilled port, the port takes the pod's identity afterwards, goes back to the pool
// when the pod is deleted, and a restarted controller recovers the pool from Neutron.
// It needs the in-process controller (hack/testbed.sh kuryr-stop first): the testbed's own
// controller runs without pools and would serve the pods itself.
func TestPoolPodTakesPooledPortAndGivesItBack(t *testing.T) {
	tb := LoadTestbed(t)
	kube, nc := tb.Kube(t), tb.Neutron(t)
	if holder, ok := externalController(kube); ok {
		t.Skipf("the testbed's controller (%s) holds the Lease; stop it with hack/testbed.sh kuryr-stop to test pools in-process", holder)
	}
	ns := tb.Namespace(t, kube)
	cfg := tb.Config(t, "it-pool-"+randomSuffix())
	cfg.Kubernetes.VIFPoolDriver = config.PoolDriverNeutron
	cfg.VIFPool = config.VIFPool{PortsPoolMin: 2, PortsPoolMax: 4, PortsPoolBatch: 2, PortsPoolUpdateFrequency: time.Second}
	clusterTag := ownership.ClusterTag(cfg.Kubernetes.ClusterID)
	ctx := context.Background()
	// Registered first, so it runs after the controllers have stopped.
	t.Cleanup(func() { deleteClusterPorts(t, nc, clusterTag) })

	// Prefill the way kuryrctl pools prefill does.
	key := pool.NewKey(tb.Get("NODE_NAME"), tb.Get("K8S_PROJECT_ID"), tb.Get("POD_NETWORK_ID"), []string{tb.Get("POD_SG_ID")})
	spec := pool.Spec{ClusterID: cfg.Kubernetes.ClusterID, ResourceTags: cfg.NeutronDefaults.ResourceTags,
		ProjectID: key.ProjectID, Subnets: map[string][]string{key.NetworkID: {tb.Get("POD_SUBNET_ID")}}}
	prefilled, err := nc.CreatePorts(ctx, spec.PoolPortOpts(key, 2))
	if err != nil {
		t.Fatalf("prefilling: %v", err)
	}
	inPool := map[string]bool{}
	for _, p := range prefilled {
		inPool[p.ID] = true
	}

	stop := once(tb.startController(t, cfg, ns))
	t.Cleanup(stop)
	start := time.Now()
	pod := createPod(t, kube, testPod(tb, ns, "pooled"))
	Eventually(t, 30*time.Second, 20*time.Millisecond, "port recorded", func() bool { return recordedPortID(kube, ns, pod.Name) != "" })
	portID := recordedPortID(kube, ns, pod.Name)
	t.Logf("pod -> pooled port recorded: %v", time.Since(start).Round(time.Millisecond))
	if !inPool[portID] {
		t.Fatalf("recorded port %s was not in the pool %v", portID, prefilled)
	}
	Eventually(t, 30*time.Second, 100*time.Millisecond, "port renamed for the pod", func() bool {
		p, err := nc.GetPort(ctx, portID)
		return err == nil && p.Name == pod.Name && p.DeviceID == string(pod.UID) &&
			p.HasTag(ownership.PodUIDTag(string(pod.UID))) && !p.HasTag(ownership.PoolTag)
	})
	t.Logf("pod -> port renamed: %v", time.Since(start).Round(time.Millisecond))
	// Taking a port left the pool below min: one bulk refill of batch size.
	Eventually(t, 60*time.Second, 200*time.Millisecond, "pool refilled", func() bool {
		return len(freePoolPorts(t, nc, cfg.Kubernetes.ClusterID)) >= 2
	})

	deletePod(t, kube, ns, pod.Name)
	Eventually(t, 60*time.Second, 100*time.Millisecond, "pod gone", func() bool { return podGone(kube, ns, pod.Name) })
	// The pod goes at once; its KuryrPort gives the port back in the background.
	Eventually(t, 60*time.Second, 100*time.Millisecond, "KuryrPort gone", func() bool { return getKP(kube, ns, pod.Name) == nil })
	p, err := nc.GetPort(ctx, portID)
	if err != nil {
		t.Fatalf("port %s after pod deletion: %v (want it back in the pool)", portID, err)
	}
	if p.Name != ownership.PoolPortName || p.DeviceID != "" || !p.HasTag(ownership.PoolTag) ||
		p.HasTag(ownership.PodUIDTag(string(pod.UID))) || !slices.Equal(p.SecurityGroups, []string{tb.Get("POD_SG_ID")}) {
		t.Errorf("released port = %+v", p)
	}

	// Restart: the new controller knows nothing but what Neutron and the KuryrPorts say.
	stop()
	free := freePoolPorts(t, nc, cfg.Kubernetes.ClusterID)
	if len(free) == 0 || len(free) > cfg.VIFPool.PortsPoolMax {
		t.Fatalf("%d free pool ports before restart", len(free))
	}
	freeIDs := map[string]bool{}
	for _, p := range free {
		freeIDs[p.ID] = true
	}
	creates := tb.PortsInUse(t, tb.Get("K8S_PROJECT_ID"))
	stop2 := once(tb.startController(t, cfg, ns))
	t.Cleanup(stop2)
	pod2 := createPod(t, kube, testPod(tb, ns, "pooled-after-restart"))
	Eventually(t, 60*time.Second, 20*time.Millisecond, "port recorded after restart", func() bool {
		return recordedPortID(kube, ns, pod2.Name) != ""
	})
	if id := recordedPortID(kube, ns, pod2.Name); !freeIDs[id] {
		t.Errorf("after restart the pod got %s, not a recovered pool port (%d free)", id, len(free))
	}
	t.Logf("ports in use before/after the second pod: %d/%d", creates, tb.PortsInUse(t, tb.Get("K8S_PROJECT_ID")))
	deletePod(t, kube, ns, pod2.Name)
	Eventually(t, 60*time.Second, 100*time.Millisecond, "second pod gone", func() bool { return podGone(kube, ns, pod2.Name) })
}

func freePoolPorts(t testing.TB, nc neutron.Client, clusterID string) []neutron.Port {
	t.Helper()
	ports, err := nc.ListPorts(context.Background(), neutron.PortFilter{
		Tags: []string{ownership.ClusterTag(clusterID), ownership.PoolTag}, DeviceOwner: neutron.DeviceOwnerKuryr,
	})
	if err != nil {
		t.Fatalf("listing pool ports: %v", err)
	}
	var out []neutron.Port
	for i := range ports {
		if pool.IsFreePoolPort(&ports[i], clusterID) {
			out = append(out, ports[i])
		}
	}
	return out
}

// deleteClusterPorts deletes every port carrying the test cluster's tag.
func deleteClusterPorts(t testing.TB, nc neutron.Client, clusterTag string) {
	ctx := context.Background()
	time.Sleep(2 * time.Second) // a refill cancelled by the controller's stop may still land
	ports, err := nc.ListPorts(ctx, neutron.PortFilter{Tags: []string{clusterTag}})
	if err != nil {
		t.Errorf("cleanup: listing ports: %v", err)
		return
	}
	for _, p := range ports {
		if err := nc.DeletePort(ctx, p.ID); err != nil {
			t.Errorf("cleanup: deleting port %s: %v", p.ID, err)
		}
	}
}

func once(f func()) func() {
	var o sync.Once
	return func() { o.Do(f) }
}

// TestPoolManagerAgainstNeutron drives the pool driver alone against the real Neutron (no
// controller, no pods; safe next to a running testbed controller): bulk refill, a hit,
// the background rename, release with reset fields, and recovery by a new manager.
func TestPoolManagerAgainstNeutron(t *testing.T) {
	tb := LoadTestbed(t)
	nc := tb.Neutron(t)
	clusterID := "it-poolmgr-" + randomSuffix()
	t.Cleanup(func() { deleteClusterPorts(t, nc, ownership.ClusterTag(clusterID)) })
	key := pool.NewKey(tb.Get("NODE_NAME"), tb.Get("K8S_PROJECT_ID"), tb.Get("POD_NETWORK_ID"), []string{tb.Get("POD_SG_ID")})
	newManager := func() (*pool.Manager, func()) {
		m := pool.New(pool.Options{
			Neutron: nc, Reader: emptyReader(t),
			Spec: pool.Spec{ClusterID: clusterID, ResourceTags: []string{"kuryr-it"}, ProjectID: key.ProjectID,
				Subnets: map[string][]string{key.NetworkID: {tb.Get("POD_SUBNET_ID")}}},
			Min: 2, Max: 3, Batch: 2, SyncPeriod: time.Second, Log: testLogger(t),
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = m.Start(ctx); close(done) }()
		return m, func() { cancel(); <-done }
	}
	// Seed one pool port so the manager knows the key; its first sync refills to min.
	if _, err := nc.CreatePorts(context.Background(), (&pool.Spec{ClusterID: clusterID,
		Subnets: map[string][]string{key.NetworkID: {tb.Get("POD_SUBNET_ID")}}}).PoolPortOpts(key, 1)); err != nil {
		t.Fatal(err)
	}
	m, stop := newManager()
	defer stop()
	Eventually(t, 60*time.Second, 100*time.Millisecond, "pool at min", func() bool { return m.Free(key) >= 2 })
	for _, p := range freePoolPorts(t, nc, clusterID) {
		if p.Name != ownership.PoolPortName || p.HostID != key.Node || p.DeviceOwner != neutron.DeviceOwnerKuryr || p.DeviceID != "" {
			t.Errorf("pool port = %+v", p)
		}
	}
	ctx := context.Background()
	pod := testPod(tb, "ns", "pooled")
	pod.UID = types.UID("00000000-0000-0000-0000-" + randomSuffix() + "0000")
	start := time.Now()
	port, hit, err := m.Acquire(ctx, key, pod)
	if err != nil || !hit {
		t.Fatalf("Acquire = %v, hit %v", err, hit)
	}
	t.Logf("hit in %v", time.Since(start))
	m.Bind(port, pod)
	Eventually(t, 30*time.Second, 100*time.Millisecond, "renamed", func() bool {
		p, err := nc.GetPort(ctx, port.ID)
		return err == nil && p.Name == pod.Name && p.DeviceID == string(pod.UID) && p.HasTag(ownership.PodUIDTag(string(pod.UID)))
	})
	t.Logf("renamed after %v", time.Since(start).Round(time.Millisecond))
	if err := m.Release(ctx, &neutron.Port{ID: port.ID}, key); err != nil {
		t.Fatal(err)
	}
	p, err := nc.GetPort(ctx, port.ID)
	if err != nil || p.Name != ownership.PoolPortName || p.DeviceID != "" || !p.HasTag(ownership.PoolTag) ||
		p.HasTag(ownership.PodUIDTag(string(pod.UID))) || !slices.Equal(p.SecurityGroups, []string{tb.Get("POD_SG_ID")}) {
		t.Fatalf("released port = %+v, %v", p, err)
	}
	stop()
	m2, stop2 := newManager()
	defer stop2()
	Eventually(t, 30*time.Second, 100*time.Millisecond, "recovered", func() bool { return m2.ReadyCheck(nil) == nil })
	if got := m2.Free(key); got < 2 || got > 3 {
		t.Errorf("recovered %d free ports, want 2..3 (max 3)", got)
	}
}

func emptyReader(t testing.TB) client.Reader {
	t.Helper()
	return crfake.NewClientBuilder().WithScheme(app.Scheme()).Build()
}

func testLogger(t testing.TB) logr.Logger { return testr.New(t.(*testing.T)) }
