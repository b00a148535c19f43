//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// execIn runs a command in a pod's container.
func execIn(t *testing.T, ns, pod string, cmd ...string) (string, error) {
	t.Helper()
	return kubectl(t, append([]string{"exec", "-n", ns, pod, "--"}, cmd...)...)
}

// podPing pings ip from inside a pod (retrying briefly) and returns the reply TTL.
func podPing(t *testing.T, ns, pod, ip string) string {
	t.Helper()
	var out string
	var err error
	for i := 0; i < 10; i++ {
		if out, err = execIn(t, ns, pod, "ping", "-c", "1", "-W", "2", ip); err == nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("ping %s from pod %s: %v\n%s", ip, pod, err, out)
	}
	m := regexp.MustCompile(`ttl=(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no TTL in %q", out)
	}
	return m[1]
}

// serveHTTPInVM starts a web server in the VM's namespace.
func serveHTTPInVM(t *testing.T, vm string) {
	t.Helper()
	cmd := exec.Command("nsenter", "--net=/run/netns/tbvm-"+vm, "python3", "-m", "http.server", "8080", "--bind", "0.0.0.0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

// TestSeedScenario: pods in default get ports on the pod subnet, reach a VM behind the router
// (TTL 63, ICMP and TCP), a VM on their own subnet at L2, and each other; a deleted pod leaves
// no OVS port, no Neutron port and no network namespace behind.
func TestSeedScenario(t *testing.T) {
	requireTestbed(t)
	kc := kubeClient(t)
	n := newNeutron()
	suffix := fmt.Sprint(time.Now().UnixNano() % 100000)
	name, peer := "kuryr-e2e-seed-"+suffix, "kuryr-e2e-peer-"+suffix

	pod := createPod(t, kc, "default", name)
	peerPod := createPod(t, kc, "default", peer)
	_, podNet, _ := net.ParseCIDR("10.0.0.64/26")
	for _, ip := range []string{pod.Status.PodIP, peerPod.Status.PodIP} {
		if !podNet.Contains(net.ParseIP(ip)) {
			t.Fatalf("pod IP %s outside %s", ip, podNet)
		}
	}
	ports, err := n.portsByName(name)
	if err != nil || len(ports) != 1 {
		t.Fatalf("Neutron ports named %s: %v %v", name, ports, err)
	}
	if ports[0].Status != "ACTIVE" || ports[0].FixedIPs[0].IP != pod.Status.PodIP {
		t.Fatalf("Neutron port %s: status %s, IP %s (pod IP %s)", ports[0].ID, ports[0].Status, ports[0].FixedIPs[0].IP, pod.Status.PodIP)
	}
	vif := defaultVIF(t, getKuryrPort(t, kc, "default", name))
	_, sandboxNetns := sandboxOf(t, vif.ID)

	vm := name + "-vm"
	vmIP := bootVM(t, vm, "")
	if ttl := podPing(t, "default", name, vmIP); ttl != "63" {
		t.Errorf("VM %s answered with TTL %s, want 63 (one router hop)", vmIP, ttl)
	}
	serveHTTPInVM(t, vm)
	var out string
	for i := 0; i < 20; i++ {
		// busybox nc (the test image's static wget crashes on name-service lookups)
		out, err = execIn(t, "default", name, "sh", "-c", `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 `+vmIP+` 8080`)
		if err == nil && strings.Contains(out, "200 OK") {
			break
		}
		if err == nil {
			err = fmt.Errorf("unexpected answer")
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("TCP from the pod to the VM: %v\n%s", err, out)
	}
	l2IP := bootVM(t, name+"-l2", tb["POD_SUBNET_ID"])
	if ttl := podPing(t, "default", name, l2IP); ttl != "64" {
		t.Errorf("VM on the pod subnet answered with TTL %s, want 64 (L2)", ttl)
	}
	if ttl := podPing(t, "default", name, peerPod.Status.PodIP); ttl != "64" {
		t.Errorf("peer pod answered with TTL %s, want 64", ttl)
	}

	deletePod(t, kc, pod)
	start := time.Now()
	for {
		ovsOut, _ := run(t, "ovs-vsctl", "--if-exists", "get", "Port", vif.VIFName, "name")
		ports, err := n.portsByName(name)
		_, statErr := os.Stat(sandboxNetns)
		if ovsOut == "" && err == nil && len(ports) == 0 && errors.Is(statErr, os.ErrNotExist) {
			t.Logf("pod deleted: OVS port, Neutron port and netns gone %v after the pod", time.Since(start))
			break
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("after pod deletion: OVS port %q, Neutron ports %d (%v), netns %s stat %v", ovsOut, len(ports), err, sandboxNetns, statErr)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if ifaces, err := runOVSFind(vif.ID); err != nil || strings.TrimSpace(ifaces) != "" {
		t.Fatalf("OVS interfaces still carry port %s: %q %v", vif.ID, ifaces, err)
	}
}

func runOVSFind(portID string) (string, error) {
	out, err := exec.Command("ovs-vsctl", "--columns=name", "find", "Interface", "external_ids:iface-id="+portID).CombinedOutput()
	return string(out), err
}
