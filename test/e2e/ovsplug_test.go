//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"

	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug"
)

// newPodNS creates a throwaway namespace standing in for a pod sandbox.
func newPodNS(t *testing.T) ns.NetNS {
	t.Helper()
	n, err := testutils.NewNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close(); _ = testutils.UnmountNS(n) })
	return n
}

// bootVM boots a testbed "VM" and returns its IP; it is deleted at the end of the test.
func bootVM(t *testing.T, name, subnet string) string {
	t.Helper()
	script := repoRoot + "/hack/testbed.sh"
	args := []string{"vm-boot", name}
	if subnet != "" {
		args = append(args, subnet)
	}
	out := mustRun(t, script, args...)
	t.Cleanup(func() { _, _ = run(t, script, "vm-delete", name) })
	m := regexp.MustCompile(`ip ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("vm-boot output: %s", out)
	}
	return m[1]
}

var ttlRe = regexp.MustCompile(`ttl=(\d+)`)

// pingFrom pings ip from the namespace at path and returns the reply TTL.
func pingFrom(t *testing.T, nsPath, ip string) string {
	t.Helper()
	var out string
	var err error
	for i := 0; i < 10; i++ { // the first packets may race the agent's flows
		out, err = run(t, "nsenter", "--net="+nsPath, "ping", "-c", "1", "-W", "2", ip)
		if err == nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("ping %s from %s: %v\n%s", ip, nsPath, err, out)
	}
	m := ttlRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no TTL in %s", out)
	}
	return m[1]
}

// TestPlugRealPort plugs a real Neutron port with the plug package and the real ovs-vsctl,
// without Kubernetes: the OVS agent must tag it, Neutron must set it ACTIVE, and the pod must
// reach a VM behind the router (TTL 63) and a VM on its own subnet (TTL 64).
func TestPlugRealPort(t *testing.T) {
	requireTestbed(t)
	n := newNeutron()
	name := fmt.Sprintf("kuryr-e2e-plug-%d", time.Now().UnixNano()%100000)
	p := n.createPort(t, name)
	if p.VIFType != "ovs" {
		t.Fatalf("port not bound by the OVS agent: vif_type %q", p.VIFType)
	}
	vif := n.vifFor(t, p)
	pod := newPodNS(t)
	ovsc := ovs.NewClient(10 * time.Second)
	pl := &plug.Plugger{Switch: ovsc, Bridge: vif.Bridge}
	ctx := context.Background()
	req := &plug.Request{VIF: vif, Netns: pod.Path(), IfName: "eth0", ContainerID: "e2e-" + name,
		PodNamespace: "e2e", PodName: name, PodUID: "uid-" + name, Default: true}

	start := time.Now()
	if _, err := pl.Plug(ctx, req); err != nil {
		t.Fatal(err)
	}
	plugTime := time.Since(start)
	t.Cleanup(func() { _ = pl.Unplug(context.Background(), req.ContainerID, req.Netns, "eth0") })
	port := plug.NamesFor(vif).OVSPort()
	var tagTime, activeTime time.Duration
	for tagTime == 0 || activeTime == 0 {
		if time.Since(start) > 60*time.Second {
			t.Fatalf("port not wired within 60s (tag after %v, ACTIVE after %v)", tagTime, activeTime)
		}
		if _, ok, err := ovsc.PortTag(ctx, port); err != nil {
			t.Fatal(err)
		} else if ok && tagTime == 0 {
			tagTime = time.Since(start)
		}
		if np, _, err := n.getPort(p.ID); err == nil && np.Status == "ACTIVE" && activeTime == 0 {
			activeTime = time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("plug %v, OVS tag after %v, Neutron ACTIVE after %v (mode %s)", plugTime, tagTime, activeTime, vif.PlugMode)

	if err := pl.Check(ctx, req); err != nil {
		t.Fatalf("CHECK: %v", err)
	}
	vmIP := bootVM(t, name+"-vm", "")
	if ttl := pingFrom(t, pod.Path(), vmIP); ttl != "63" {
		t.Errorf("VM behind the router answered with TTL %s, want 63", ttl)
	}
	l2IP := bootVM(t, name+"-l2", tb["POD_SUBNET_ID"])
	if ttl := pingFrom(t, pod.Path(), l2IP); ttl != "64" {
		t.Errorf("VM on the pod subnet answered with TTL %s, want 64", ttl)
	}

	if err := pl.Unplug(ctx, req.ContainerID, req.Netns, "eth0"); err != nil {
		t.Fatal(err)
	}
	if out, _ := run(t, "ovs-vsctl", "--if-exists", "get", "Port", port, "name"); strings.TrimSpace(out) != "" {
		t.Fatalf("OVS port %s still exists after unplug", port)
	}
	n.waitPortStatus(t, p.ID, "DOWN", 30*time.Second)
}
