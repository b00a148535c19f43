//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug"
)

// ovsInterface returns an OVS Interface column ("" when there is no such interface).
func ovsInterface(t *testing.T, name, column string) string {
	t.Helper()
	out, err := exec.Command("ovs-vsctl", "--if-exists", "get", "Interface", name, column).CombinedOutput()
	if err != nil {
		t.Fatalf("ovs-vsctl get Interface %s %s: %v: %s", name, column, err, out)
	}
	return strings.TrimSpace(string(out))
}

// waitParkedPool waits until the node's KuryrPortPool lists free ports, all parked by the
// daemon and ACTIVE in Neutron, and returns them.
func waitParkedPool(t *testing.T, c client.Client, n *neutron, node string, timeout time.Duration) []apiv1.VIF {
	t.Helper()
	start := time.Now()
	var kpp apiv1.KuryrPortPool
	for {
		err := c.Get(context.Background(), client.ObjectKey{Name: node}, &kpp)
		if err == nil && len(kpp.Spec.Ports) > 0 && kpp.Status.Plugged == len(kpp.Spec.Ports) {
			active := 0
			for _, v := range kpp.Spec.Ports {
				if p, _, err := n.getPort(v.ID); err == nil && p.Status == "ACTIVE" {
					active++
				}
			}
			if active == len(kpp.Spec.Ports) {
				t.Logf("pool of %s: %d free ports parked and ACTIVE after %v", node, active, time.Since(start).Round(time.Millisecond))
				return kpp.Spec.Ports
			}
		}
		if time.Since(start) > timeout {
			t.Fatalf("pool of %s not parked within %v: get %v, spec %d ports, status %+v", node, timeout, err, len(kpp.Spec.Ports), kpp.Status)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// With port pools, the node daemon plugs the free ports ahead: a pod takes a port that is
// already wired (the same OVS interface, moved into its namespace), reaches its peers, and
// after the pod's deletion the port goes back to the pool and is plugged ahead again.
func TestPoolsParkedPort(t *testing.T) {
	requireTestbed(t)
	if os.Getenv("KURYR_E2E_POOLS") == "" {
		t.Skip("needs the controller with vif_pool_driver = neutron: make test-e2e-pools")
	}
	kc := kubeClient(t)
	n := newNeutron()
	node := tb["NODE_NAME"]
	suffix := fmt.Sprint(time.Now().UnixNano() % 100000)

	// The first pod makes its node's pool exist; the refill that follows is parked.
	first := createPod(t, kc, "default", "kuryr-e2e-pool-a-"+suffix)
	free := waitParkedPool(t, kc, n, node, 120*time.Second)
	uuids := map[string]string{}
	for _, v := range free {
		tap := plug.NamesFor(&v).OVSPort()
		uuids[v.ID] = ovsInterface(t, tap, "_uuid")
		if ids := ovsInterface(t, tap, "external_ids"); !strings.Contains(ids, `kuryr-parked="true"`) {
			t.Fatalf("parked port %s: external_ids %s", v.ID, ids)
		}
	}

	start := time.Now()
	second := createPod(t, kc, "default", "kuryr-e2e-pool-b-"+suffix)
	t.Logf("pod on a parked port Running after %v", time.Since(start).Round(time.Millisecond))
	vif := defaultVIF(t, getKuryrPort(t, kc, "default", second.Name))
	before, ok := uuids[vif.ID]
	if !ok {
		t.Fatalf("pod got port %s, not one of the parked ports %v", vif.ID, uuids)
	}
	tap := plug.NamesFor(vif).OVSPort()
	if after := ovsInterface(t, tap, "_uuid"); after != before {
		t.Fatalf("OVS interface of port %s was re-created (%s -> %s): the parked port was not taken", vif.ID, before, after)
	}
	ids := ovsInterface(t, tap, "external_ids")
	if strings.Contains(ids, "kuryr-parked") || !strings.Contains(ids, "kuryr-container-id") {
		t.Fatalf("taken port %s: external_ids %s", vif.ID, ids)
	}
	if second.Status.PodIP != vif.Subnets[0].IPs[0] {
		t.Fatalf("pod IP %s, port IP %s", second.Status.PodIP, vif.Subnets[0].IPs[0])
	}
	if ttl := podPing(t, "default", second.Name, first.Status.PodIP); ttl != "64" {
		t.Fatalf("ping from the pod on a parked port to its peer: TTL %s, want 64", ttl)
	}
	p, _, err := n.getPort(vif.ID)
	if err != nil || p.Status != "ACTIVE" {
		t.Fatalf("port %s: %+v %v", vif.ID, p, err)
	}

	// Deleted, the pod gives the port back: free again, then parked again.
	deletePod(t, kc, second)
	start = time.Now()
	for {
		var kpp apiv1.KuryrPortPool
		err := kc.Get(context.Background(), client.ObjectKey{Name: node}, &kpp)
		back := false
		for _, v := range kpp.Spec.Ports {
			back = back || v.ID == vif.ID
		}
		if err == nil && back && kpp.Status.Plugged == len(kpp.Spec.Ports) &&
			strings.Contains(ovsInterface(t, tap, "external_ids"), `kuryr-parked="true"`) {
			t.Logf("port %s back in the pool and parked %v after the pod's deletion", vif.ID, time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > 120*time.Second {
			t.Fatalf("port %s not parked again within 120s (in pool %v, status %+v, get %v)", vif.ID, back, kpp.Status, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
