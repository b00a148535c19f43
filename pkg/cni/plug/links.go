package plug

import (
	"errors"
	"fmt"
	"net"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

func isNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf)
}

// deleteLink removes a link by name in the current network namespace; a missing link is fine.
func deleteLink(name string) error {
	link, err := netlinksafe.LinkByName(name)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("looking up link %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting link %s: %w", name, err)
	}
	return nil
}

// deleteHostLink removes a link in the host namespace. The daemon's goroutines always run in
// the host namespace (namespace switches happen only inside ns.Do on a locked thread).
func deleteHostLink(name string) error { return deleteLink(name) }

// createVeth creates the pod veth: hostName stays in the host namespace, podName is created
// directly in the pod's namespace with the port's MAC (in the current one when netns is
// nil), both with the network's MTU.
func createVeth(hostName, podName string, mac net.HardwareAddr, mtu int, netns ns.NetNS) (netlink.Link, error) {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = hostName
	veth := &netlink.Veth{
		LinkAttrs:        attrs,
		PeerName:         podName,
		PeerHardwareAddr: mac,
		PeerTxQLen:       -1,
	}
	if netns != nil {
		veth.PeerNamespace = netlink.NsFd(int(netns.Fd()))
	}
	if mtu > 0 {
		veth.MTU = mtu
		veth.PeerMTU = uint32(mtu)
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("creating veth %s/%s: %w", hostName, podName, err)
	}
	link, err := netlinksafe.LinkByName(hostName)
	if err != nil {
		return nil, fmt.Errorf("looking up new veth %s: %w", hostName, err)
	}
	return link, nil
}

func setUp(name string) error {
	link, err := netlinksafe.LinkByName(name)
	if err != nil {
		return fmt.Errorf("looking up link %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("setting %s up: %w", name, err)
	}
	return nil
}

func setMaster(name, master string) error {
	link, err := netlinksafe.LinkByName(name)
	if err != nil {
		return fmt.Errorf("looking up link %s: %w", name, err)
	}
	br, err := netlinksafe.LinkByName(master)
	if err != nil {
		return fmt.Errorf("looking up bridge %s: %w", master, err)
	}
	if err := netlink.LinkSetMaster(link, br); err != nil {
		return fmt.Errorf("adding %s to %s: %w", name, master, err)
	}
	return nil
}

// ensureHybrid creates the per-port Linux bridge qbr and the qvb/qvo veth pair joining it to
// OVS, keeping whatever already exists.
func ensureHybrid(n Names, mtu int) error {
	if _, err := netlinksafe.LinkByName(n.Bridge); err != nil {
		if !isNotFound(err) {
			return fmt.Errorf("looking up bridge %s: %w", n.Bridge, err)
		}
		attrs := netlink.NewLinkAttrs()
		attrs.Name = n.Bridge
		if mtu > 0 {
			attrs.MTU = mtu
		}
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
			return fmt.Errorf("creating bridge %s: %w", n.Bridge, err)
		}
	}
	if _, err := netlinksafe.LinkByName(n.QVO); err != nil {
		if !isNotFound(err) {
			return fmt.Errorf("looking up %s: %w", n.QVO, err)
		}
		_ = deleteLink(n.QVB)
		attrs := netlink.NewLinkAttrs()
		attrs.Name = n.QVB
		veth := &netlink.Veth{LinkAttrs: attrs, PeerName: n.QVO, PeerTxQLen: -1}
		if mtu > 0 {
			veth.MTU = mtu
			veth.PeerMTU = uint32(mtu)
		}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("creating veth %s/%s: %w", n.QVB, n.QVO, err)
		}
	}
	if err := setMaster(n.QVB, n.Bridge); err != nil {
		return err
	}
	for _, l := range []string{n.Bridge, n.QVB, n.QVO} {
		if err := setUp(l); err != nil {
			return err
		}
	}
	return nil
}
