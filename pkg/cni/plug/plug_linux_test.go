package plug

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug/plugtest"
)

const (
	portID = "5f0e6a1c-3b2d-4c5e-9f8a-7b6c5d4e3f21"
	podMAC = "fa:16:3e:12:34:56"
)

// requireRoot skips tests that need to create network namespaces.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (creates network namespaces, veths and bridges); run: sudo go test ./pkg/cni/plug/")
	}
}

// newNS creates a throwaway network namespace.
func newNS(t *testing.T) ns.NetNS {
	t.Helper()
	n, err := testutils.NewNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close(); _ = testutils.UnmountNS(n) })
	return n
}

// env is a throwaway "host" namespace with a Linux bridge standing in for br-int (it holds
// the gateway address so traffic can be tested), and a fake OVS database.
type env struct {
	host ns.NetNS
	sw   *plugtest.Switch
	p    *Plugger
}

func newEnv(t *testing.T) *env {
	requireRoot(t)
	e := &env{host: newNS(t), sw: &plugtest.Switch{LinuxBridge: "brtest"}}
	e.p = &Plugger{Switch: e.sw}
	e.inHost(t, func() error {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = "brtest"
		br := &netlink.Bridge{LinkAttrs: attrs}
		if err := netlink.LinkAdd(br); err != nil {
			return err
		}
		addr, _ := netlink.ParseAddr("10.0.0.65/26")
		if err := netlink.AddrAdd(br, addr); err != nil {
			return err
		}
		return netlink.LinkSetUp(br)
	})
	return e
}

func (e *env) inHost(t *testing.T, f func() error) {
	t.Helper()
	if err := e.host.Do(func(ns.NetNS) error { return f() }); err != nil {
		t.Fatal(err)
	}
}

func vif(mode string) *apiv1.VIF {
	return &apiv1.VIF{
		ID: portID, Address: podMAC, MTU: 1400, Bridge: "br-int", VIFType: apiv1.VIFTypeOVS, PlugMode: mode,
		VIFName: apiv1.VIFNameForPort(portID),
		Subnets: []apiv1.Subnet{{CIDR: "10.0.0.64/26", Gateway: "10.0.0.65", IPs: []string{"10.0.0.70"},
			Routes: []apiv1.Route{{CIDR: "192.168.10.0/24", Gateway: "10.0.0.66"}}}},
	}
}

func request(v *apiv1.VIF, pod ns.NetNS, cid string) *Request {
	return &Request{VIF: v, Netns: pod.Path(), IfName: "eth0", ContainerID: cid, PodNamespace: "default",
		PodName: "pod1", PodUID: "uid-1", Default: true}
}

func hasLink(t *testing.T, name string) bool {
	t.Helper()
	_, err := netlinksafe.LinkByName(name)
	if err != nil && !isNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// verifyPod checks the pod side by hand (independently of Check).
func verifyPod(t *testing.T, pod ns.NetNS) {
	t.Helper()
	err := pod.Do(func(ns.NetNS) error {
		link, err := netlinksafe.LinkByName("eth0")
		if err != nil {
			return err
		}
		if link.Attrs().HardwareAddr.String() != podMAC || link.Attrs().MTU != 1400 || link.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("eth0: mac %s mtu %d flags %v", link.Attrs().HardwareAddr, link.Attrs().MTU, link.Attrs().Flags)
		}
		addrs, _ := netlinksafe.AddrList(link, netlink.FAMILY_V4)
		if len(addrs) != 1 || addrs[0].IPNet.String() != "10.0.0.70/26" {
			t.Errorf("addresses: %v", addrs)
		}
		routes, _ := netlinksafe.RouteList(link, netlink.FAMILY_V4)
		var got []string
		for _, r := range routes {
			if r.Gw != nil {
				dst := "default"
				if r.Dst != nil && r.Dst.String() != "0.0.0.0/0" {
					dst = r.Dst.String()
				}
				got = append(got, dst+" via "+r.Gw.String())
			}
		}
		if strings.Join(got, ",") != "192.168.10.0/24 via 10.0.0.66,default via 10.0.0.65" &&
			strings.Join(got, ",") != "default via 10.0.0.65,192.168.10.0/24 via 10.0.0.66" {
			t.Errorf("routes: %v", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tcpToGateway connects from the pod to a listener on the bridge's address.
func tcpToGateway(t *testing.T, e *env, pod ns.NetNS) {
	t.Helper()
	var l net.Listener
	e.inHost(t, func() (err error) { l, err = net.Listen("tcp4", "10.0.0.65:0"); return err })
	defer func() { _ = l.Close() }()
	go func() {
		if c, err := l.Accept(); err == nil {
			_, _ = c.Write([]byte("hi"))
			_ = c.Close()
		}
	}()
	err := pod.Do(func(ns.NetNS) error {
		c, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			return err
		}
		defer func() { _ = c.Close() }()
		buf := make([]byte, 2)
		_, err = c.Read(buf)
		return err
	})
	if err != nil {
		t.Fatalf("pod cannot reach its gateway: %v", err)
	}
}

func TestNativePlugCheckUnplug(t *testing.T) {
	e := newEnv(t)
	pod := newNS(t)
	ctx := context.Background()
	req := request(vif(apiv1.PlugModeNative), pod, "cid-1")
	e.inHost(t, func() error {
		res, err := e.p.Plug(ctx, req)
		if err != nil {
			return err
		}
		if res.HostIfName != "tap5f0e6a1c-3b" || res.OVSPort != "tap5f0e6a1c-3b" || res.PodMAC.String() != podMAC {
			t.Errorf("result: %+v", res)
		}
		return nil
	})
	verifyPod(t, pod)
	iface, ok := e.sw.Port("tap5f0e6a1c-3b")
	if !ok {
		t.Fatalf("no OVS port; ports %v", e.sw.Ports())
	}
	for k, want := range map[string]string{ovs.KeyIfaceID: portID, ovs.KeyAttachedMAC: podMAC, ovs.KeyIfaceStatus: "active",
		ovs.KeyVMUUID: "uid-1", ovs.KeyContainerID: "cid-1", ovs.KeyIfName: "eth0", ovs.KeyPlugMode: "native"} {
		if iface.ExternalIDs[k] != want {
			t.Errorf("external_ids:%s = %q, want %q", k, iface.ExternalIDs[k], want)
		}
	}
	tcpToGateway(t, e, pod)

	e.inHost(t, func() error { return e.p.Check(ctx, req) })

	// Someone removes the address: CHECK must notice.
	if err := pod.Do(func(ns.NetNS) error {
		link, _ := netlinksafe.LinkByName("eth0")
		addr, _ := netlink.ParseAddr("10.0.0.70/26")
		return netlink.AddrDel(link, addr)
	}); err != nil {
		t.Fatal(err)
	}
	e.inHost(t, func() error {
		if err := e.p.Check(ctx, req); err == nil || !strings.Contains(err.Error(), "address 10.0.0.70/26 missing") {
			t.Errorf("CHECK after address removal: %v", err)
		}
		return nil
	})

	// DEL twice, then DEL of an unknown sandbox and of a missing namespace.
	e.inHost(t, func() error {
		for i := 0; i < 2; i++ {
			if err := e.p.Unplug(ctx, "cid-1", pod.Path(), "eth0"); err != nil {
				return err
			}
		}
		if hasLink(t, "tap5f0e6a1c-3b") || len(e.sw.Ports()) != 0 {
			t.Errorf("leftovers: ports %v", e.sw.Ports())
		}
		if err := e.p.Unplug(ctx, "never-added", pod.Path(), "eth0"); err != nil {
			return err
		}
		return e.p.Unplug(ctx, "cid-1", "/var/run/netns/kuryr-does-not-exist", "eth0")
	})
	_ = pod.Do(func(ns.NetNS) error {
		if hasLink(t, "eth0") {
			t.Error("eth0 still in the pod")
		}
		return nil
	})
}

func TestDelOfOldSandboxKeepsNewOne(t *testing.T) {
	e := newEnv(t)
	oldPod, newPod := newNS(t), newNS(t)
	ctx := context.Background()
	newReq := request(vif(apiv1.PlugModeNative), newPod, "cid-new")
	e.inHost(t, func() error {
		if _, err := e.p.Plug(ctx, request(vif(apiv1.PlugModeNative), oldPod, "cid-old")); err != nil {
			return err
		}
		if _, err := e.p.Plug(ctx, newReq); err != nil {
			return err
		}
		// The runtime cleans up the old sandbox after the new one is running.
		if err := e.p.Unplug(ctx, "cid-old", oldPod.Path(), "eth0"); err != nil {
			return err
		}
		if err := e.p.Check(ctx, newReq); err != nil {
			t.Errorf("new sandbox broken by DEL of the old one: %v", err)
		}
		return nil
	})
	verifyPod(t, newPod)
}

func TestHybridPlug(t *testing.T) {
	e := newEnv(t)
	pod := newNS(t)
	ctx := context.Background()
	req := request(vif(apiv1.PlugModeHybrid), pod, "cid-h")
	e.inHost(t, func() error {
		res, err := e.p.Plug(ctx, req)
		if err != nil {
			return err
		}
		if res.OVSPort != "qvo5f0e6a1c-3b" || res.HostIfName != "tap5f0e6a1c-3b" {
			t.Errorf("result: %+v", res)
		}
		qbr, err := netlinksafe.LinkByName("qbr5f0e6a1c-3b")
		if err != nil {
			return err
		}
		for _, l := range []string{"tap5f0e6a1c-3b", "qvb5f0e6a1c-3b"} {
			link, err := netlinksafe.LinkByName(l)
			if err != nil {
				return err
			}
			if link.Attrs().MasterIndex != qbr.Attrs().Index {
				t.Errorf("%s not in qbr", l)
			}
		}
		if i, ok := e.sw.Port("qvo5f0e6a1c-3b"); !ok || i.ExternalIDs[ovs.KeyPlugMode] != "hybrid" || i.ExternalIDs[ovs.KeyIfaceID] != portID {
			t.Errorf("qvo port: %+v %v", i, ok)
		}
		return e.p.Check(ctx, req)
	})
	// pod eth0 -> tap -> qbr -> qvb/qvo -> (stand-in) br-int
	tcpToGateway(t, e, pod)
	e.inHost(t, func() error {
		if err := e.p.Unplug(ctx, "cid-h", pod.Path(), "eth0"); err != nil {
			return err
		}
		for _, l := range []string{"tap5f0e6a1c-3b", "qvb5f0e6a1c-3b", "qvo5f0e6a1c-3b", "qbr5f0e6a1c-3b"} {
			if hasLink(t, l) {
				t.Errorf("%s left behind", l)
			}
		}
		return nil
	})
	verifyNoPodIface(t, pod)
}

func verifyNoPodIface(t *testing.T, pod ns.NetNS) {
	t.Helper()
	_ = pod.Do(func(ns.NetNS) error {
		if hasLink(t, "eth0") {
			t.Error("eth0 still in the pod")
		}
		return nil
	})
}

func TestFailedPlugLeavesNothing(t *testing.T) {
	e := newEnv(t)
	pod := newNS(t)
	e.sw.FailAdd = errors.New("ovsdb unavailable")
	e.inHost(t, func() error {
		_, err := e.p.Plug(context.Background(), request(vif(apiv1.PlugModeNative), pod, "cid-f"))
		if err == nil || !strings.Contains(err.Error(), "ovsdb unavailable") {
			t.Errorf("plug: %v", err)
		}
		if hasLink(t, "tap5f0e6a1c-3b") {
			t.Error("host veth leaked")
		}
		return nil
	})
	verifyNoPodIface(t, pod)
}

func TestRecoverRemovesOnlyDeadPorts(t *testing.T) {
	e := newEnv(t)
	live, dead := newNS(t), newNS(t)
	ctx := context.Background()
	other := vif(apiv1.PlugModeNative)
	other.ID, other.VIFName, other.Address = "99999999-0000-1111-2222-333333333333", apiv1.VIFNameForPort("99999999-0000-1111-2222-333333333333"), "fa:16:3e:99:99:99"
	e.inHost(t, func() error {
		if _, err := e.p.Plug(ctx, request(vif(apiv1.PlugModeNative), live, "cid-live")); err != nil {
			return err
		}
		_, err := e.p.Plug(ctx, request(other, dead, "cid-dead"))
		return err
	})
	// The dead sandbox's namespace disappears without a DEL: its veth pair goes with it.
	_ = dead.Close()
	if err := testutils.UnmountNS(dead); err != nil {
		t.Fatal(err)
	}
	e.inHost(t, func() error {
		waitGone(t, other.VIFName)
		plugged, err := e.p.Recover(ctx, e.sw)
		if err != nil {
			return err
		}
		if len(plugged) != 2 {
			t.Errorf("recovered %+v", plugged)
		}
		if got := e.sw.Ports(); len(got) != 1 || got[0] != "tap5f0e6a1c-3b" {
			t.Errorf("ports after recovery: %v", got)
		}
		return nil
	})
	verifyPod(t, live)
}
