package plug

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/vishvananda/netlink"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

// Address is a fixed IP with the prefix length of its subnet.
type Address struct {
	IPNet   net.IPNet
	Gateway net.IP
}

// Addresses returns the VIF's fixed IPs with their subnet prefixes.
func Addresses(vif *apiv1.VIF) ([]Address, error) {
	var res []Address
	for _, s := range vif.Subnets {
		_, cidr, err := net.ParseCIDR(s.CIDR)
		if err != nil {
			return nil, fmt.Errorf("parsing subnet CIDR %q: %w", s.CIDR, err)
		}
		var gw net.IP
		if s.Gateway != "" {
			if gw = net.ParseIP(s.Gateway); gw == nil {
				return nil, fmt.Errorf("parsing gateway %q of subnet %s", s.Gateway, s.CIDR)
			}
		}
		for _, ipStr := range s.IPs {
			ip := net.ParseIP(ipStr)
			if ip == nil {
				return nil, fmt.Errorf("parsing fixed IP %q", ipStr)
			}
			if ip4 := ip.To4(); ip4 != nil {
				ip = ip4
			}
			res = append(res, Address{IPNet: net.IPNet{IP: ip, Mask: cidr.Mask}, Gateway: gw})
		}
	}
	return res, nil
}

// RouteSpec is a route to install in the pod.
type RouteSpec struct {
	Dst net.IPNet
	GW  net.IP
}

// Routes returns the subnet host routes and, for the default interface, one default route per
// address family via the subnet gateway.
func Routes(vif *apiv1.VIF, withDefault bool) ([]RouteSpec, error) {
	var res []RouteSpec
	haveDefault := map[bool]bool{}
	for _, s := range vif.Subnets {
		for _, r := range s.Routes {
			_, dst, err := net.ParseCIDR(r.CIDR)
			if err != nil {
				return nil, fmt.Errorf("parsing host route %q: %w", r.CIDR, err)
			}
			gw := net.ParseIP(r.Gateway)
			if gw == nil {
				return nil, fmt.Errorf("parsing host route gateway %q", r.Gateway)
			}
			if ones, _ := dst.Mask.Size(); ones == 0 {
				haveDefault[dst.IP.To4() != nil] = true
			}
			res = append(res, RouteSpec{Dst: *dst, GW: gw})
		}
	}
	if !withDefault {
		return res, nil
	}
	for _, s := range vif.Subnets {
		if s.Gateway == "" || len(s.IPs) == 0 {
			continue
		}
		gw := net.ParseIP(s.Gateway)
		if gw == nil {
			return nil, fmt.Errorf("parsing gateway %q", s.Gateway)
		}
		v4 := gw.To4() != nil
		if haveDefault[v4] {
			continue
		}
		haveDefault[v4] = true
		dst := net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
		if v4 {
			dst = net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
		}
		res = append(res, RouteSpec{Dst: dst, GW: gw})
	}
	return res, nil
}

// configureL3 runs inside the pod namespace: addresses, link up, routes.
func configureL3(req *Request) error {
	link, err := netlinksafe.LinkByName(req.IfName)
	if err != nil {
		return fmt.Errorf("looking up %s: %w", req.IfName, err)
	}
	addrs, err := Addresses(req.VIF)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if a.IPNet.IP.To4() == nil {
			if err := enableIPv6(req.IfName); err != nil {
				return err
			}
		}
		ipn := a.IPNet
		if err := netlink.AddrReplace(link, &netlink.Addr{IPNet: &ipn}); err != nil {
			return fmt.Errorf("adding address %s to %s: %w", ipn.String(), req.IfName, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("setting %s up: %w", req.IfName, err)
	}
	routes, err := Routes(req.VIF, req.Default)
	if err != nil {
		return err
	}
	for _, r := range routes {
		dst := r.Dst
		route := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: &dst, Gw: r.GW}
		if err := netlink.RouteReplace(route); err != nil {
			return fmt.Errorf("adding route %s via %s: %w", dst.String(), r.GW, err)
		}
	}
	return nil
}

func enableIPv6(ifName string) error {
	for _, p := range []string{"all", "default", ifName} {
		path := filepath.Join("/proc/sys/net/ipv6/conf", p, "disable_ipv6")
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if err := os.WriteFile(path, []byte("0"), 0o644); err != nil {
			return fmt.Errorf("enabling IPv6 on %s: %w", p, err)
		}
	}
	return nil
}
