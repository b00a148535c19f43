package podport

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kuryr-go/kuryr-go/pkg/controller/pool"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

// withPools runs a pool manager over the env's fakes and plugs it into the reconciler.
// hold, when not nil, blocks every port update until it is closed.
func withPools(e *env, hold chan struct{}) *pool.Manager {
	e.t.Helper()
	e.os.Fail = func(op openstack.Op) error {
		e.record(string(op))
		if op == "update port" && hold != nil {
			<-hold
		}
		return nil
	}
	m := pool.New(pool.Options{
		Neutron: e.os, Reader: e.k8s,
		Spec: pool.Spec{ClusterID: "test-cluster", ResourceTags: []string{"extra"}, ProjectID: "proj-1", Subnets: map[string][]string{"net-1": {"subnet-1"}}},
		Min:  0, Batch: 1, SyncPeriod: time.Hour, Log: testr.New(e.t),
	})
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	go func() { _ = m.Start(ctx) }()
	waitFor(e.t, "pools recovered", func() bool { return m.ReadyCheck(nil) == nil })
	e.r.Pool = m
	return m
}

func freePoolPort(e *env) neutron.Port {
	return e.os.AddPort(neutron.Port{
		Name: ownership.PoolPortName, NetworkID: "net-1", ProjectID: "proj-1", HostID: testNode,
		DeviceOwner: neutron.DeviceOwnerKuryr, Status: neutron.PortStatusDown, MACAddress: "fa:16:3e:00:00:99",
		SecurityGroups: []string{"sg-1", "sg-2"}, Tags: ownership.PoolPortTags("test-cluster", []string{"extra"}),
		FixedIPs: []neutron.FixedIP{{SubnetID: "subnet-1", IPAddress: "10.0.0.99"}},
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) neutronPort(id string) *neutron.Port {
	p, err := e.os.GetPort(context.Background(), id)
	if err != nil {
		return nil
	}
	return p
}

func TestPoolHitRecordsStatusBeforeRename(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	free := freePoolPort(e)
	hold := make(chan struct{})
	withPools(e, hold)

	e.mustReconcile(testPod) // returns although the rename is blocked
	if id := e.kp(testPod).Status.VIFs["eth0"].VIF.ID; id != free.ID {
		t.Fatalf("recorded port %q, want the pool's %s", id, free.ID)
	}
	if n := e.os.Calls("create port") + e.os.Calls("bulk create ports"); n != 0 {
		t.Errorf("%d creates on a hit", n)
	}
	if !hasEvent(e.drainEvents(), "Normal "+ReasonPortFromPool) {
		t.Error("no PortFromPool event")
	}
	waitFor(t, "the background rename to start", func() bool { return e.traceIndex("update port") >= 0 })
	if st, up := e.traceIndex("patch status KuryrPort"), e.traceIndex("update port"); st < 0 || up < st {
		t.Errorf("status written at %d, rename at %d: the status must come first; trace %v", st, up, e.trace)
	}
	close(hold)
	waitFor(t, "the port to carry the pod's identity", func() bool {
		p := e.neutronPort(free.ID)
		return p != nil && p.Name == testPod && p.DeviceID == testUID && p.HasTag(ownership.PodUIDTag(testUID)) && !p.HasTag(ownership.PoolTag)
	})

	// Deleting the pod gives the port back to the pool instead of deleting it.
	if err := e.k8s.Delete(context.Background(), e.pod(testPod)); err != nil {
		t.Fatal(err)
	}
	e.mustReconcile(testPod)
	p := e.neutronPort(free.ID)
	if p == nil {
		t.Fatal("pool port deleted on release")
	}
	if p.Name != ownership.PoolPortName || p.DeviceID != "" || !p.HasTag(ownership.PoolTag) || p.HasTag(ownership.PodUIDTag(testUID)) {
		t.Errorf("released port = %+v", p)
	}
	if e.kp(testPod) != nil || e.pod(testPod) != nil {
		t.Error("KuryrPort or pod still there after release")
	}
}

func TestPoolMissCreatesForThePod(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	withPools(e, nil)
	e.mustReconcile(testPod)
	ports := e.os.Ports()
	if len(ports) != 1 || ports[0].DeviceID != testUID || ports[0].Name != testPod || e.os.Calls("create port") != 1 {
		t.Fatalf("ports = %+v", ports)
	}
	if id := e.kp(testPod).Status.VIFs["eth0"].VIF.ID; id != ports[0].ID {
		t.Errorf("recorded %q", id)
	}
	if e.os.Calls("update port") != 0 {
		t.Error("a port created for the pod needs no rename")
	}
}

// A crash between the status write and the rename: the port still looks free in Neutron,
// but the KuryrPort status names it, so recovery leaves it out and the pod keeps it.
func TestPoolPortRecordedButNotRenamedSurvivesRestart(t *testing.T) {
	e := newEnv(t, nil, newPod(testPod, testUID))
	free := freePoolPort(e)
	other := freePoolPort(e)
	e.mustReconcile(testPod) // no pools yet: creates the KuryrPort and a port; replace it
	kp := e.kp(testPod)
	created := kp.Status.VIFs["eth0"].VIF.ID
	e.os.RemovePort(created)
	orig := kp.DeepCopy()
	vs := kp.Status.VIFs["eth0"]
	vs.VIF.ID = free.ID
	kp.Status.VIFs["eth0"] = vs
	if err := e.k8s.Status().Patch(context.Background(), kp, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	e.r.forget(testUID)

	m := withPools(e, nil)
	if got := m.Free(pool.NewKey(testNode, "proj-1", "net-1", []string{"sg-1", "sg-2"})); got != 1 {
		t.Fatalf("free after recovery = %d, want 1 (%s only)", got, other.ID)
	}
	e.mustReconcile(testPod)
	if id := e.kp(testPod).Status.VIFs["eth0"].VIF.ID; id != free.ID {
		t.Fatalf("recorded %q, want %s kept", id, free.ID)
	}
	waitFor(t, "the rename after restart", func() bool {
		p := e.neutronPort(free.ID)
		return p != nil && p.DeviceID == testUID && p.HasTag(ownership.PodUIDTag(testUID))
	})
	if p := e.neutronPort(other.ID); p == nil || p.DeviceID != "" {
		t.Errorf("the other pool port was touched: %+v", p)
	}
}
