package daemon

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"

	"github.com/kuryr-go/kuryr-go/pkg/cni/plug"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug/plugtest"
)

const isolatedEnv = "KURYR_TEST_ISOLATED_NETNS"

// runIsolated re-executes the current test in a fresh network namespace (unshare --net), so
// that the daemon's host-side devices never appear in the machine's namespace. It returns
// true in the parent, which must then return.
func runIsolated(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, veths, bridges); run: sudo go test ./pkg/cni/daemon/")
	}
	if os.Getenv(isolatedEnv) == "1" {
		return false
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1) to isolate the test's host namespace")
	}
	cmd := exec.Command("unshare", "--net", "--", os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), isolatedEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Log(string(out))
	if err != nil {
		t.Fatalf("isolated run failed: %v", err)
	}
	return true
}

// TestRealNetnsThroughPlugin drives the kuryr-cni binary against the daemon with the real
// plugger: a Linux bridge stands in for br-int and a fake OVS database records the port.
func TestRealNetnsThroughPlugin(t *testing.T) {
	if runIsolated(t) {
		return
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = "brtest"
	br := &netlink.Bridge{LinkAttrs: attrs}
	if err := netlink.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr("10.0.0.65/26")
	if err := netlink.AddrAdd(br, addr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		t.Fatal(err)
	}

	sw := &plugtest.Switch{LinuxBridge: "brtest"}
	f := newFixture(SignalOVS)
	f.svc.Plugger = &plug.Plugger{Switch: sw}
	f.svc.Tags = sw
	f.ports.set(testKP(testUID, false))
	d := startDaemon(t, f)

	// The "OVS agent": tags the port shortly after it appears.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				for _, p := range sw.Ports() {
					if _, ok, _ := sw.PortTag(context.Background(), p, time.Time{}); !ok {
						time.Sleep(50 * time.Millisecond)
						sw.SetTag(p, 1)
					}
				}
			}
		}
	}()

	pod, err := testutils.NewNS()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pod.Close(); _ = testutils.UnmountNS(pod) }()

	pluginBinary(t) // build before timing
	start := time.Now()
	r := runPlugin(t, "ADD", pod.Path(), d.socket, "1.0.0", nil)
	if r.exitCode != 0 {
		t.Fatalf("ADD: %s", r.stdout)
	}
	t.Logf("ADD through the plugin binary took %v", time.Since(start))
	var res struct {
		Interfaces []struct{ Name, Mac, Sandbox string }
		IPs        []struct{ Address, Gateway string }
	}
	if err := json.Unmarshal(r.stdout, &res); err != nil || len(res.Interfaces) != 2 || res.Interfaces[1].Sandbox != pod.Path() ||
		res.IPs[0].Address != "10.0.0.70/26" || res.IPs[0].Gateway != "10.0.0.65" {
		t.Fatalf("result %s: %v", r.stdout, err)
	}
	err = pod.Do(func(ns.NetNS) error {
		link, err := netlinksafe.LinkByName("eth0")
		if err != nil {
			return err
		}
		if link.Attrs().HardwareAddr.String() != "fa:16:3e:aa:bb:cc" || link.Attrs().MTU != 1450 {
			t.Errorf("eth0: %s %d", link.Attrs().HardwareAddr, link.Attrs().MTU)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	prev := json.RawMessage(r.stdout)
	if r := runPlugin(t, "CHECK", pod.Path(), d.socket, "1.0.0", map[string]any{"prevResult": prev}); r.exitCode != 0 {
		t.Fatalf("CHECK: %s", r.stdout)
	}
	_ = pod.Do(func(ns.NetNS) error {
		link, _ := netlinksafe.LinkByName("eth0")
		a, _ := netlink.ParseAddr("10.0.0.70/26")
		return netlink.AddrDel(link, a)
	})
	r = runPlugin(t, "CHECK", pod.Path(), d.socket, "1.0.0", map[string]any{"prevResult": prev})
	if r.exitCode == 0 || !strings.Contains(string(r.stdout), "10.0.0.70/26 missing") {
		t.Fatalf("CHECK after address removal: %s", r.stdout)
	}
	for i := 0; i < 2; i++ {
		if r := runPlugin(t, "DEL", pod.Path(), d.socket, "1.0.0", nil); r.exitCode != 0 {
			t.Fatalf("DEL %d: %s", i, r.stdout)
		}
	}
	if len(sw.Ports()) != 0 {
		t.Fatalf("ports left: %v", sw.Ports())
	}
	if r := runPlugin(t, "DEL", "/var/run/netns/kuryr-missing", d.socket, "1.0.0", nil); r.exitCode != 0 {
		t.Fatalf("DEL with a missing netns: %s", r.stdout)
	}
}
