package plug

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
)

// Check verifies that the sandbox is still wired as Plug left it: the OVS port recorded for
// this container, the host veth, and inside the namespace the interface with the port's MAC,
// MTU, addresses and default route.
func (p *Plugger) Check(ctx context.Context, req *Request) error {
	if err := p.validate(req); err != nil {
		return fmt.Errorf("validating check request: %w", err)
	}
	names := NamesFor(req.VIF)
	ifaces, err := p.Switch.FindInterfaces(ctx, ovs.KeyContainerID, req.ContainerID)
	if err != nil {
		return err
	}
	found := false
	for _, i := range ifaces {
		if i.Name == names.OVSPort() && i.ExternalIDs[ovs.KeyIfaceID] == req.VIF.ID {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("OVS port %s for port %s and container %s not found", names.OVSPort(), req.VIF.ID, req.ContainerID)
	}
	host, err := netlinksafe.LinkByName(names.Tap)
	if err != nil {
		return fmt.Errorf("host interface %s: %w", names.Tap, err)
	}
	if host.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("host interface %s is down", names.Tap)
	}
	if names.Bridge != "" {
		br, err := netlinksafe.LinkByName(names.Bridge)
		if err != nil {
			return fmt.Errorf("hybrid bridge %s: %w", names.Bridge, err)
		}
		if host.Attrs().MasterIndex != br.Attrs().Index {
			return fmt.Errorf("host interface %s is not in bridge %s", names.Tap, names.Bridge)
		}
	}
	return ns.WithNetNSPath(req.Netns, func(ns.NetNS) error { return checkPod(req) })
}

func checkPod(req *Request) error {
	link, err := netlinksafe.LinkByName(req.IfName)
	if err != nil {
		return fmt.Errorf("interface %s in %s: %w", req.IfName, req.Netns, err)
	}
	attrs := link.Attrs()
	if !strings.EqualFold(attrs.HardwareAddr.String(), req.VIF.Address) {
		return fmt.Errorf("interface %s has MAC %s, want %s", req.IfName, attrs.HardwareAddr, req.VIF.Address)
	}
	if req.VIF.MTU > 0 && attrs.MTU != req.VIF.MTU {
		return fmt.Errorf("interface %s has MTU %d, want %d", req.IfName, attrs.MTU, req.VIF.MTU)
	}
	if attrs.Flags&net.FlagUp == 0 {
		return fmt.Errorf("interface %s is down", req.IfName)
	}
	want, err := Addresses(req.VIF)
	if err != nil {
		return err
	}
	have, err := netlinksafe.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("listing addresses of %s: %w", req.IfName, err)
	}
	for _, w := range want {
		if !hasAddr(have, w.IPNet) {
			return fmt.Errorf("address %s missing on %s", w.IPNet.String(), req.IfName)
		}
	}
	routes, err := Routes(req.VIF, req.Default)
	if err != nil {
		return err
	}
	haveRoutes, err := netlinksafe.RouteList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("listing routes of %s: %w", req.IfName, err)
	}
	for _, r := range routes {
		if !hasRoute(haveRoutes, r) {
			return fmt.Errorf("route %s via %s missing on %s", r.Dst.String(), r.GW, req.IfName)
		}
	}
	return nil
}

func hasAddr(have []netlink.Addr, want net.IPNet) bool {
	for _, a := range have {
		if a.IPNet != nil && a.IP.Equal(want.IP) && a.Mask.String() == want.Mask.String() {
			return true
		}
	}
	return false
}

func hasRoute(have []netlink.Route, want RouteSpec) bool {
	wantOnes, _ := want.Dst.Mask.Size()
	for _, r := range have {
		if !r.Gw.Equal(want.GW) {
			continue
		}
		if r.Dst == nil {
			if wantOnes == 0 {
				return true
			}
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		if ones == wantOnes && r.Dst.IP.Equal(want.Dst.IP) {
			return true
		}
	}
	return false
}
