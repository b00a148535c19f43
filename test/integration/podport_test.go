//go:build integration

package integration

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/controller/app"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

// TestPodPortLifecycle: a pod gets exactly the port of the seed scenario, and loses it on deletion.
func TestPodPortLifecycle(t *testing.T) {
	tb := LoadTestbed(t)
	kube, nc := tb.Kube(t), tb.Neutron(t)
	ns := tb.Namespace(t, kube)
	clusterID := tb.StartController(t, kube, ns).ClusterID

	start := time.Now()
	pod := createPod(t, kube, testPod(tb, ns, "my-alpine"))
	Eventually(t, 30*time.Second, 20*time.Millisecond, "port recorded in KuryrPort", func() bool {
		return recordedPortID(kube, ns, pod.Name) != ""
	})
	t.Logf("pod -> port recorded: %v", time.Since(start).Round(time.Millisecond))

	kp := getKP(kube, ns, pod.Name)
	if kp.Spec.PodUID != string(pod.UID) || kp.Spec.PodNodeName != tb.Get("NODE_NAME") ||
		kp.Labels[apiv1.NodeNameLabel] != tb.Get("NODE_NAME") || !slices.Contains(kp.Finalizers, apiv1.KuryrPortFinalizer) ||
		len(kp.OwnerReferences) != 1 || kp.OwnerReferences[0].UID != pod.UID {
		t.Errorf("KuryrPort = %+v", kp.ObjectMeta)
	}
	v := kp.Status.VIFs["eth0"].VIF
	port, err := nc.GetPort(context.Background(), v.ID)
	if err != nil {
		t.Fatalf("recorded port %s: %v", v.ID, err)
	}
	if port.Name != pod.Name || port.DeviceOwner != "compute:kuryr" || port.DeviceID != string(pod.UID) ||
		port.HostID != tb.Get("NODE_NAME") || port.ProjectID != tb.Get("K8S_PROJECT_ID") ||
		len(port.FixedIPs) != 1 || port.FixedIPs[0].SubnetID != tb.Get("POD_SUBNET_ID") ||
		!slices.Equal(port.SecurityGroups, []string{tb.Get("POD_SG_ID")}) {
		t.Errorf("port = %+v", port)
	}
	for _, tag := range []string{ownership.ClusterTag(clusterID), ownership.PodUIDTag(string(pod.UID))} {
		if !port.HasTag(tag) {
			t.Errorf("port tags %v lack %s", port.Tags, tag)
		}
	}
	if v.Address != port.MACAddress || len(v.Subnets) != 1 || v.Subnets[0].IPs[0] != port.FixedIPs[0].IPAddress ||
		!strings.HasPrefix(v.Subnets[0].CIDR, "10.0.0.64/") || v.MTU == 0 || v.Bridge == "" || v.VIFName != apiv1.VIFNameForPort(port.ID) {
		t.Errorf("VIF = %+v", v)
	}
	Eventually(t, 10*time.Second, 100*time.Millisecond, "PortCreated event", func() bool {
		return podEvent(t, kube, pod, apiv1.ReasonPortCreated)
	})
	// ACTIVE needs the node side to plug the port; report it, do not require it.
	activeBy := time.Now().Add(15 * time.Second)
	for time.Now().Before(activeBy) {
		if kp := getKP(kube, ns, pod.Name); kp != nil && kp.Status.VIFs["eth0"].VIF.Active {
			t.Logf("pod -> port ACTIVE: %v", time.Since(start).Round(time.Millisecond))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	delStart := time.Now()
	deletePod(t, kube, ns, pod.Name)
	Eventually(t, 60*time.Second, 20*time.Millisecond, "pod gone", func() bool { return podGone(kube, ns, pod.Name) })
	podGoneAfter := time.Since(delStart)
	Eventually(t, 60*time.Second, 50*time.Millisecond, "port and KuryrPort gone", func() bool {
		_, err := nc.GetPort(context.Background(), v.ID)
		return openstack.IsNotFound(err) && getKP(kube, ns, pod.Name) == nil
	})
	t.Logf("pod deletion -> pod gone %v, port deleted and KuryrPort gone %v",
		podGoneAfter.Round(time.Millisecond), time.Since(delStart).Round(time.Millisecond))
}

// TestAdoptsPortCreatedBeforeCrash: the KuryrPort and a tagged port with device_id = pod UID
// exist, but the port was never recorded, as after a controller killed between the create
// and the status write. The pod is held back by a scheduling gate while that state is built,
// so no controller touches it before it is complete.
func TestAdoptsPortCreatedBeforeCrash(t *testing.T) {
	tb := LoadTestbed(t)
	kube, nc := tb.Kube(t), tb.Neutron(t)
	ns := tb.Namespace(t, kube)
	ctl := tb.StartController(t, kube, ns)
	cfg := tb.Config(t, ctl.ClusterID)
	ctx := context.Background()

	pod := testPod(tb, ns, "crashed")
	pod.Spec.NodeName = ""
	pod.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "kuryr.openstack.org/integration-hold"}}
	pod.Finalizers = []string{apiv1.PodFinalizer}
	createPod(t, kube, pod)
	t.Cleanup(func() { deletePod(t, kube, ns, pod.Name) })
	kp := &apiv1.KuryrPort{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: ns, Finalizers: []string{apiv1.KuryrPortFinalizer},
			Labels: map[string]string{apiv1.NodeNameLabel: tb.Get("NODE_NAME")}},
		Spec: apiv1.KuryrPortSpec{PodUID: string(pod.UID), PodNodeName: tb.Get("NODE_NAME")},
	}
	if err := kube.Create(ctx, kp); err != nil {
		t.Fatal(err)
	}
	orphan, err := nc.CreatePort(ctx, neutron.PortCreateOpts{
		Name: pod.Name, NetworkID: tb.Get("POD_NETWORK_ID"), ProjectID: cfg.NeutronDefaults.Project,
		SubnetIDs: []string{tb.Get("POD_SUBNET_ID")}, DeviceOwner: neutron.DeviceOwnerKuryr,
		DeviceID: string(pod.UID), HostID: tb.Get("NODE_NAME"), SecurityGroups: cfg.NeutronDefaults.PodSecurityGroups,
		Tags: ownership.PortTags(ctl.ClusterID, string(pod.UID), nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.DeletePort(context.Background(), orphan.ID) })

	// Release the pod: the scheduler binds it to the node and the controller takes over.
	orig := pod.DeepCopy()
	pod.Spec.SchedulingGates = nil
	if err := kube.Patch(ctx, pod, client.MergeFrom(orig)); err != nil {
		t.Fatalf("removing the scheduling gate: %v", err)
	}
	Eventually(t, 60*time.Second, 50*time.Millisecond, "port recorded", func() bool {
		return recordedPortID(kube, ns, pod.Name) != ""
	})
	if got := recordedPortID(kube, ns, pod.Name); got != orphan.ID {
		t.Errorf("recorded %s, want the adopted %s", got, orphan.ID)
	}
	ports, err := nc.ListPorts(ctx, neutron.PortFilter{DeviceID: string(pod.UID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 1 {
		t.Errorf("%d ports for the pod, want 1", len(ports))
	}
	deletePod(t, kube, ns, pod.Name)
	Eventually(t, 60*time.Second, 100*time.Millisecond, "pod and port gone", func() bool {
		_, err := nc.GetPort(ctx, orphan.ID)
		return podGone(kube, ns, pod.Name) && openstack.IsNotFound(err)
	})
}

func TestPortDeletedBehindOurBackIsRecreated(t *testing.T) {
	tb := LoadTestbed(t)
	kube, nc := tb.Kube(t), tb.Neutron(t)
	ns := tb.Namespace(t, kube)
	ctl := tb.StartController(t, kube, ns)
	ctx := context.Background()

	pod := createPod(t, kube, testPod(tb, ns, "victim"))
	t.Cleanup(func() { deletePod(t, kube, ns, pod.Name) })
	Eventually(t, 30*time.Second, 50*time.Millisecond, "port recorded", func() bool {
		return recordedPortID(kube, ns, pod.Name) != ""
	})
	first := recordedPortID(kube, ns, pod.Name)
	if err := nc.DeletePort(ctx, first); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	Eventually(t, ctl.SweepPeriod+60*time.Second, 100*time.Millisecond, "a new port recorded", func() bool {
		id := recordedPortID(kube, ns, pod.Name)
		return id != "" && id != first
	})
	t.Logf("deleted port replaced after %v", time.Since(start).Round(time.Millisecond))
	second := recordedPortID(kube, ns, pod.Name)
	if _, err := nc.GetPort(ctx, second); err != nil {
		t.Errorf("new port %s: %v", second, err)
	}
	if ports, err := nc.ListPorts(ctx, neutron.PortFilter{DeviceID: string(pod.UID)}); err != nil || len(ports) != 1 {
		t.Errorf("ports of the pod: %d, %v; want 1", len(ports), err)
	}
	Eventually(t, 10*time.Second, 100*time.Millisecond, "PortRecreated event", func() bool {
		return podEvent(t, kube, pod, apiv1.ReasonPortRecreated)
	})
	deletePod(t, kube, ns, pod.Name)
	Eventually(t, 60*time.Second, 100*time.Millisecond, "pod and port gone", func() bool {
		_, err := nc.GetPort(ctx, second)
		return podGone(kube, ns, pod.Name) && openstack.IsNotFound(err)
	})
}

// TestInvalidConfigStopsStartup checks the one-line start-up errors, in-process and through
// the real binary.
func TestInvalidConfigStopsStartup(t *testing.T) {
	tb := LoadTestbed(t)
	const missing = "00000000-0000-4000-8000-000000000000"
	cfg := tb.Config(t, "it-"+randomSuffix())
	cfg.NeutronDefaults.PodSubnet = missing
	_, err := app.Prepare(context.Background(), cfg, 5*time.Second, logr.Discard())
	want := "kuryr.conf: [neutron_defaults] pod_subnet: subnet " + missing + " does not exist in Neutron"
	if err == nil || err.Error() != want {
		t.Errorf("Prepare error = %v, want %q", err, want)
	}
	cfg = tb.Config(t, "it-"+randomSuffix())
	cfg.NeutronDefaults.PodSecurityGroups = []string{missing}
	if _, err := app.Prepare(context.Background(), cfg, 5*time.Second, logr.Discard()); err == nil ||
		!strings.HasPrefix(err.Error(), "kuryr.conf: [neutron_defaults] pod_security_groups: security group "+missing) {
		t.Errorf("Prepare error = %v", err)
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "kuryr-controller")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/kuryr-go/kuryr-go/cmd/kuryr-controller").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	conf, err := os.ReadFile(tb.Get("KURYR_CONF"))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(conf), tb.Get("POD_SUBNET_ID"), missing, 1)
	confPath := filepath.Join(dir, "kuryr.conf")
	if err := os.WriteFile(confPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", confPath, "--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--startup-timeout", "5s")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("controller exit = %v, want status 1", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	last := lines[len(lines)-1]
	if last != "kuryr-controller: "+want {
		t.Errorf("last stderr line = %q, want %q", last, "kuryr-controller: "+want)
	}
}

func TestQuotaExceededThenRecovered(t *testing.T) {
	tb := LoadTestbed(t)
	kube, nc := tb.Kube(t), tb.Neutron(t)
	ns := tb.Namespace(t, kube)
	project := tb.Get("K8S_PROJECT_ID")
	ctl := tb.StartController(t, kube, ns)
	ctx := context.Background()

	used := tb.PortsInUse(t, project)
	prev := tb.SetPortQuota(t, project, used)
	restored := false
	restore := func() {
		if !restored {
			tb.SetPortQuota(t, project, prev)
			restored = true
		}
	}
	t.Cleanup(restore)

	pod := createPod(t, kube, testPod(tb, ns, "over-quota"))
	t.Cleanup(func() { deletePod(t, kube, ns, pod.Name) })
	Eventually(t, 30*time.Second, 100*time.Millisecond, "QuotaExceeded event and condition", func() bool {
		return podEvent(t, kube, pod, apiv1.ReasonQuotaExceeded) && readyReason(getKP(kube, ns, pod.Name)) == apiv1.ReasonQuotaExceeded
	})
	if recordedPortID(kube, ns, pod.Name) != "" {
		t.Fatal("a port was recorded although the quota is exhausted")
	}
	restore()
	start := time.Now()
	Eventually(t, ctl.QuotaRetry+30*time.Second, 100*time.Millisecond, "port recorded after the quota was raised", func() bool {
		return recordedPortID(kube, ns, pod.Name) != ""
	})
	t.Logf("recovered %v after the quota was raised", time.Since(start).Round(time.Millisecond))
	id := recordedPortID(kube, ns, pod.Name)
	deletePod(t, kube, ns, pod.Name)
	Eventually(t, 60*time.Second, 100*time.Millisecond, "pod and port gone", func() bool {
		_, err := nc.GetPort(ctx, id)
		return podGone(kube, ns, pod.Name) && openstack.IsNotFound(err)
	})
}
