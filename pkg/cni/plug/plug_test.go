package plug

import (
	"context"
	"testing"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug/plugtest"
)

func TestNamesFor(t *testing.T) {
	n := NamesFor(&apiv1.VIF{ID: portID, PlugMode: apiv1.PlugModeNative})
	if n.Tap != "tap5f0e6a1c-3b" || n.OVSPort() != n.Tap || n.Bridge != "" {
		t.Fatalf("native: %+v", n)
	}
	h := NamesFor(&apiv1.VIF{ID: portID, PlugMode: apiv1.PlugModeHybrid, VIFName: "tap5f0e6a1c-3b"})
	if h.Bridge != "qbr5f0e6a1c-3b" || h.QVB != "qvb5f0e6a1c-3b" || h.OVSPort() != "qvo5f0e6a1c-3b" || h.Tap != "tap5f0e6a1c-3b" {
		t.Fatalf("hybrid: %+v", h)
	}
	if got := hybridNamesFromQVO(h.QVO); got != h {
		t.Fatalf("names from qvo: %+v", got)
	}
}

func TestExternalIDs(t *testing.T) {
	v := vif("")
	v.Address = "FA:16:3E:12:34:56"
	ids := ExternalIDs(&Request{VIF: v, ContainerID: "c", PodUID: "u", PodNamespace: "ns", PodName: "p", IfName: "eth0", Netns: "/n"})
	want := map[string]string{"iface-id": portID, "attached-mac": podMAC, "iface-status": "active", "vm-uuid": "u",
		"kuryr-container-id": "c", "kuryr-pod-namespace": "ns", "kuryr-pod-name": "p", "kuryr-ifname": "eth0",
		"kuryr-netns": "/n", "kuryr-plug-mode": "native"}
	for k, w := range want {
		if ids[k] != w {
			t.Errorf("%s = %q, want %q", k, ids[k], w)
		}
	}
}

func TestValidate(t *testing.T) {
	good := func() *Request {
		return &Request{VIF: vif("native"), Netns: "/n", IfName: "eth0", ContainerID: "c"}
	}
	p := &Plugger{}
	if err := p.validate(good()); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Request){
		"no vif":    func(r *Request) { r.VIF = nil },
		"no bridge": func(r *Request) { r.VIF.Bridge = "" },
		"bad mac":   func(r *Request) { r.VIF.Address = "zz" },
		"bad mode":  func(r *Request) { r.VIF.PlugMode = "vhostuser" },
		"no netns":  func(r *Request) { r.Netns = "" },
		"no cid":    func(r *Request) { r.ContainerID = "" },
	} {
		r := good()
		mutate(r)
		if err := p.validate(r); err == nil {
			t.Errorf("%s: expected an error", name)
		}
	}
}

func TestRoutesAndAddresses(t *testing.T) {
	v := vif("native")
	v.Subnets = append(v.Subnets, apiv1.Subnet{CIDR: "fd00::/64", Gateway: "fd00::1", IPs: []string{"fd00::5"}})
	addrs, err := Addresses(v)
	if err != nil || len(addrs) != 2 || addrs[0].IPNet.String() != "10.0.0.70/26" || addrs[1].IPNet.String() != "fd00::5/64" {
		t.Fatalf("addresses: %v %v", addrs, err)
	}
	routes, err := Routes(v, true)
	if err != nil || len(routes) != 3 {
		t.Fatalf("routes: %v %v", routes, err)
	}
	if routes[1].Dst.String() != "0.0.0.0/0" || routes[2].Dst.String() != "::/0" || routes[2].GW.String() != "fd00::1" {
		t.Fatalf("default routes: %v", routes)
	}
	// A host route for 0.0.0.0/0 replaces the gateway default.
	v.Subnets[0].Routes = append(v.Subnets[0].Routes, apiv1.Route{CIDR: "0.0.0.0/0", Gateway: "10.0.0.99"})
	routes, _ = Routes(v, true)
	var defaults []string
	for _, r := range routes {
		if r.Dst.String() == "0.0.0.0/0" {
			defaults = append(defaults, r.GW.String())
		}
	}
	if len(defaults) != 1 || defaults[0] != "10.0.0.99" {
		t.Fatalf("IPv4 defaults: %v", defaults)
	}
}

// TestUnplugOnlyTouchesItsContainer runs without root: the links do not exist, which Unplug
// treats as already removed.
func TestUnplugOnlyTouchesItsContainer(t *testing.T) {
	sw := &plugtest.Switch{}
	ctx := context.Background()
	_ = sw.AddPort(ctx, "br-int", "tapkt-new-000", map[string]string{ovs.KeyContainerID: "new", ovs.KeyIfName: "eth0"})
	p := &Plugger{Switch: sw}
	if err := p.Unplug(ctx, "old", "", "eth0"); err != nil {
		t.Fatal(err)
	}
	if got := sw.Ports(); len(got) != 1 {
		t.Fatalf("DEL of the old sandbox removed the new one's port: %v", got)
	}
	for i := 0; i < 2; i++ {
		if err := p.Unplug(ctx, "new", "", "eth0"); err != nil {
			t.Fatal(err)
		}
	}
	if got := sw.Ports(); len(got) != 0 {
		t.Fatalf("ports left: %v", got)
	}
}
