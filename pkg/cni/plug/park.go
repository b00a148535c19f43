package plug

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/go-logr/logr"
	"github.com/vishvananda/netlink"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
)

// Parking: a free pool port is plugged before any pod asks for it. Its veth is created as
// for a pod, but the pod end stays in the host namespace, down and without addresses, under
// the name ParkedName. The OVS agent wires the port meanwhile (local VLAN tag, firewall
// flows, ACTIVE in Neutron). A pod that takes the port gets the parked end moved into its
// namespace and configured (Claim): no new OVS port, so nothing to wait for. Moving an
// interface to another namespace makes the kernel re-create its IP settings from that
// namespace's defaults, so a claimed interface is configured as one created in the pod.

// ErrInUse is returned by Park when the port's devices exist and are not parked: a pod has
// it plugged (or its unplug has not happened yet).
var ErrInUse = errors.New("port is plugged for a pod")

// ParkedPrefix starts the names of parked pod-side interfaces.
const ParkedPrefix = "kp"

// ParkedName is the name of a parked port's pod-side interface in the host namespace.
func ParkedName(portID string) string {
	id := portID
	if len(id) > 11 {
		id = id[:11]
	}
	return ParkedPrefix + id
}

// ParkedExternalIDs are the OVS external IDs of a parked port: enough for the agent to wire
// it, and the parked mark instead of a sandbox.
func ParkedExternalIDs(vif *apiv1.VIF) map[string]string {
	mode := vif.PlugMode
	if mode == "" {
		mode = apiv1.PlugModeNative
	}
	return map[string]string{
		ovs.KeyIfaceID:     vif.ID,
		ovs.KeyAttachedMAC: strings.ToLower(vif.Address),
		ovs.KeyIfaceStatus: "active",
		ovs.KeyPlugMode:    mode,
		ovs.KeyParked:      "true",
	}
}

// Park plugs a free pool port ahead of its pod. It is idempotent for a port already parked
// and fails with ErrInUse when the port is plugged for a pod.
func (p *Plugger) Park(ctx context.Context, vif *apiv1.VIF) (err error) {
	if err := ValidateVIF(vif, p.Bridge); err != nil {
		return fmt.Errorf("validating pool port: %w", err)
	}
	unlock := p.ports.Lock(vif.ID)
	defer unlock()
	names := NamesFor(vif)
	parked := ParkedName(vif.ID)
	tapExists, err := linkExists(names.Tap)
	if err != nil {
		return err
	}
	parkedExists, err := linkExists(parked)
	if err != nil {
		return err
	}
	switch {
	case tapExists && parkedExists:
		// Parked already (a restart, or the same spec seen again): make sure OVS has it.
		return p.Switch.AddPort(ctx, vif.Bridge, names.OVSPort(), ParkedExternalIDs(vif))
	case tapExists:
		return ErrInUse
	}
	if err := p.checkLeftovers(ctx, vif, names); err != nil {
		return err
	}
	if err := deleteHostLink(parked); err != nil {
		return err
	}
	if err := p.Switch.DelPort(ctx, names.OVSPort()); err != nil {
		return fmt.Errorf("removing leftover OVS port: %w", err)
	}
	defer func() {
		if err != nil {
			if derr := p.unpark(context.WithoutCancel(ctx), names, parked); derr != nil {
				logr.FromContextOrDiscard(ctx).Error(derr, "Rollback of parked port failed", "port", vif.ID)
			}
		}
	}()
	mac, _ := net.ParseMAC(vif.Address)
	if _, err := createVeth(names.Tap, parked, mac, vif.MTU, nil); err != nil {
		return err
	}
	if names.QVO != "" {
		if err := ensureHybrid(names, vif.MTU); err != nil {
			return err
		}
		if err := setMaster(names.Tap, names.Bridge); err != nil {
			return err
		}
	}
	if err := setUp(names.Tap); err != nil {
		return err
	}
	return p.Switch.AddPort(ctx, vif.Bridge, names.OVSPort(), ParkedExternalIDs(vif))
}

// Unpark removes a parked port's devices. A port a pod has claimed meanwhile is left alone
// (it is not parked any more); a port that is gone is success.
func (p *Plugger) Unpark(ctx context.Context, vif *apiv1.VIF) error {
	unlock := p.ports.Lock(vif.ID)
	defer unlock()
	parked := ParkedName(vif.ID)
	ok, err := linkExists(parked)
	if err != nil || !ok {
		return err
	}
	return p.unpark(ctx, NamesFor(vif), parked)
}

func (p *Plugger) unpark(ctx context.Context, names Names, parked string) error {
	var errs []error
	if names.QVO != "" {
		errs = append(errs, p.unplugHybrid(ctx, names))
	} else {
		errs = append(errs, p.Switch.DelPort(ctx, names.Tap), deleteHostLink(names.Tap))
	}
	errs = append(errs, deleteHostLink(parked))
	return errors.Join(errs...)
}

// Parked is a port found parked on the node.
type Parked struct {
	PortID  string
	OVSPort string
	Hybrid  bool
}

// ListParked returns the ports parked in OVS. Entries whose parked interface is gone (a
// claim that did not finish) are removed from OVS and not returned.
func (p *Plugger) ListParked(ctx context.Context, lister Lister) ([]Parked, error) {
	ifaces, err := lister.ListInterfaces(ctx, ovs.KeyParked)
	if err != nil {
		return nil, fmt.Errorf("listing parked ports: %w", err)
	}
	var res []Parked
	for _, i := range ifaces {
		id := i.ExternalIDs[ovs.KeyIfaceID]
		if id == "" || i.ExternalIDs[ovs.KeyContainerID] != "" {
			continue
		}
		pk := Parked{PortID: id, OVSPort: i.Name, Hybrid: i.ExternalIDs[ovs.KeyPlugMode] == apiv1.PlugModeHybrid}
		ok, err := linkExists(ParkedName(id))
		if err != nil {
			return nil, err
		}
		if !ok {
			names := Names{Tap: i.Name}
			if pk.Hybrid {
				names = hybridNamesFromQVO(i.Name)
			}
			if err := p.unpark(ctx, names, ParkedName(id)); err != nil {
				logr.FromContextOrDiscard(ctx).Error(err, "Removing a broken parked port failed", "port", id)
			}
			continue
		}
		res = append(res, pk)
	}
	return res, nil
}

// claim moves a parked port into the request's sandbox. It returns false when the port is
// not parked here, or when the move failed (then the devices are removed and the caller
// plugs from scratch).
func (p *Plugger) claim(ctx context.Context, req *Request, netns ns.NetNS) (*Result, bool) {
	log := logr.FromContextOrDiscard(ctx).WithValues("port", req.VIF.ID)
	parked := ParkedName(req.VIF.ID)
	link, err := netlinksafe.LinkByName(parked)
	if err != nil {
		return nil, false
	}
	names := NamesFor(req.VIF)
	res, err := p.moveParked(ctx, req, netns, link, names)
	if err != nil {
		log.Info("Taking the parked port failed; plugging it anew", "error", err.Error())
		if derr := p.unpark(context.WithoutCancel(ctx), names, parked); derr != nil {
			log.Error(derr, "Removing the parked port failed")
		}
		return nil, false
	}
	return res, true
}

func (p *Plugger) moveParked(ctx context.Context, req *Request, netns ns.NetNS, link netlink.Link, names Names) (*Result, error) {
	mac, _ := net.ParseMAC(req.VIF.Address)
	if !strings.EqualFold(link.Attrs().HardwareAddr.String(), mac.String()) {
		return nil, fmt.Errorf("parked interface %s has MAC %s, the port %s", link.Attrs().Name, link.Attrs().HardwareAddr, mac)
	}
	host, err := netlinksafe.LinkByName(names.Tap)
	if err != nil {
		return nil, fmt.Errorf("looking up %s: %w", names.Tap, err)
	}
	if err := netns.Do(func(ns.NetNS) error { return deleteLink(req.IfName) }); err != nil {
		return nil, fmt.Errorf("removing leftover %s in %s: %w", req.IfName, req.Netns, err)
	}
	if err := netlink.LinkSetNsFd(link, int(netns.Fd())); err != nil {
		return nil, fmt.Errorf("moving %s into %s: %w", link.Attrs().Name, req.Netns, err)
	}
	err = netns.Do(func(ns.NetNS) error {
		moved, err := netlinksafe.LinkByName(link.Attrs().Name)
		if err != nil {
			return fmt.Errorf("looking up %s: %w", link.Attrs().Name, err)
		}
		if err := netlink.LinkSetName(moved, req.IfName); err != nil {
			return fmt.Errorf("renaming %s to %s: %w", link.Attrs().Name, req.IfName, err)
		}
		return configureL3(req)
	})
	if err != nil {
		// Bring the interface back so that it can be removed with its peer.
		_ = netns.Do(func(ns.NetNS) error { return deleteLink(req.IfName) })
		return nil, fmt.Errorf("configuring %s in %s: %w", req.IfName, req.Netns, err)
	}
	if err := p.Switch.SetExternalIDs(ctx, names.OVSPort(), ExternalIDs(req), []string{ovs.KeyParked}); err != nil {
		_ = netns.Do(func(ns.NetNS) error { return deleteLink(req.IfName) })
		return nil, err
	}
	return &Result{HostIfName: names.Tap, HostMAC: host.Attrs().HardwareAddr, PodMAC: mac, OVSPort: names.OVSPort(), Parked: true}, nil
}

func linkExists(name string) (bool, error) {
	_, err := netlinksafe.LinkByName(name)
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("looking up link %s: %w", name, err)
}
