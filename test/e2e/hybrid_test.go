//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

// TestHybridPlug runs when the testbed's OVS agent uses the iptables_hybrid firewall
// (`make test-e2e-hybrid`): Neutron then binds ports with ovs_hybrid_plug and the daemon must
// plug the pod through a qbr Linux bridge and a qvb/qvo veth pair, as os-vif does, with
// security groups enforced by iptables on the bridge.
func TestHybridPlug(t *testing.T) {
	requireTestbed(t)
	if tb["OVS_FIREWALL"] != "iptables_hybrid" {
		t.Skip("the testbed's OVS agent uses the openvswitch firewall: run `make test-e2e-hybrid`")
	}
	kc := kubeClient(t)
	name := fmt.Sprintf("kuryr-e2e-hybrid-%d", time.Now().UnixNano()%100000)
	pod := createPod(t, kc, "default", name)
	vif := defaultVIF(t, getKuryrPort(t, kc, "default", name))
	if vif.PlugMode != apiv1.PlugModeHybrid {
		t.Fatalf("VIF plug mode %q, want %q (Neutron should report ovs_hybrid_plug)", vif.PlugMode, apiv1.PlugModeHybrid)
	}
	qbr, qvb, qvo := apiv1.HybridNames(vif.ID)
	if out, err := run(t, "ip", "-o", "link", "show", "master", qbr); err != nil ||
		!strings.Contains(out, vif.VIFName) || !strings.Contains(out, qvb) {
		t.Fatalf("bridge %s should hold %s and %s: %v\n%s", qbr, vif.VIFName, qvb, err, out)
	}
	if out, err := run(t, "ovs-vsctl", "get", "Interface", qvo, "external_ids:iface-id"); err != nil || strings.Trim(strings.TrimSpace(out), `"`) != vif.ID {
		t.Fatalf("OVS interface %s iface-id = %q (%v), want %s", qvo, out, err, vif.ID)
	}
	vmIP := bootVM(t, name+"-vm", "")
	if ttl := podPing(t, "default", name, vmIP); ttl != "63" {
		t.Errorf("VM %s answered with TTL %s, want 63", vmIP, ttl)
	}
	deletePod(t, kc, pod)
	start := time.Now()
	for {
		_, brErr := run(t, "ip", "link", "show", qbr)
		ovsOut, _ := run(t, "ovs-vsctl", "--if-exists", "get", "Port", qvo, "name")
		if brErr != nil && strings.TrimSpace(ovsOut) == "" {
			t.Logf("pod deleted: %s and %s gone %v after the pod", qbr, qvo, time.Since(start))
			return
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("after pod deletion: bridge %s present=%v, OVS port %q", qbr, brErr == nil, ovsOut)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
