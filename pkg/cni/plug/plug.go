// Package plug wires a pod's network namespace to its Neutron port: a veth pair whose pod end
// carries the port's MAC and addresses and whose host end is attached to the OVS bridge
// (directly, or through a per-port Linux bridge in hybrid mode, as os-vif does).
//
// The OVS side goes through the Switch interface; the durable record of what was plugged for
// which sandbox lives in the OVS Interface external_ids (see package ovs).
package plug

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/go-logr/logr"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
	"github.com/kuryr-go/kuryr-go/pkg/keyed"
)

// Switch is the part of OVS the plugger needs.
type Switch interface {
	AddPort(ctx context.Context, bridge, port string, externalIDs map[string]string) error
	DelPort(ctx context.Context, port string) error
	FindInterfaces(ctx context.Context, key, value string) ([]ovs.Interface, error)
	Interface(ctx context.Context, name string) (ovs.Interface, bool, error)
	SetExternalIDs(ctx context.Context, iface string, set map[string]string, remove []string) error
}

// Request describes one interface to plug into one sandbox.
type Request struct {
	VIF          *apiv1.VIF
	Netns        string
	IfName       string
	ContainerID  string
	PodNamespace string
	PodName      string
	PodUID       string
	// Default adds the default route via the subnet gateway (the pod's primary interface).
	Default bool
}

// Result is what was created.
type Result struct {
	// HostIfName is the host end of the pod's veth ("tap...").
	HostIfName string
	HostMAC    net.HardwareAddr
	// PodMAC is the MAC of the pod's interface (the Neutron port's MAC).
	PodMAC net.HardwareAddr
	// OVSPort is the port on the OVS bridge: the tap (native) or the qvo (hybrid).
	OVSPort string
	// Parked is true when the port was plugged ahead (a parked pool port) and only moved
	// into the sandbox: it is wired already.
	Parked bool
}

// Plugger plugs and unplugs pods.
type Plugger struct {
	Switch Switch
	// Bridge is the only OVS bridge VIFs may name ([neutron_defaults] ovs_bridge);
	// DefaultBridge when empty.
	Bridge string

	// ports serialises the work on one Neutron port (parking and plugging).
	ports keyed.Mutex
}

// Names are the host device names of a VIF.
type Names struct {
	Tap, Bridge, QVB, QVO string
}

// NamesFor returns the device names of a VIF, derived from its port ID with the api helpers
// (the VIF's own vifName is never used: validation refuses one that differs).
func NamesFor(vif *apiv1.VIF) Names {
	n := Names{Tap: apiv1.VIFNameForPort(vif.ID)}
	if vif.PlugMode == apiv1.PlugModeHybrid {
		n.Bridge, n.QVB, n.QVO = apiv1.HybridNames(vif.ID)
	}
	return n
}

// OVSPort is the device that is attached to OVS.
func (n Names) OVSPort() string {
	if n.QVO != "" {
		return n.QVO
	}
	return n.Tap
}

// validate checks a request against the Plugger's bridge.
func (p *Plugger) validate(req *Request) error { return ValidateRequest(req, p.Bridge) }

// ExternalIDs returns the OVS interface external IDs for a request.
func ExternalIDs(req *Request) map[string]string {
	mode := req.VIF.PlugMode
	if mode == "" {
		mode = apiv1.PlugModeNative
	}
	return map[string]string{
		ovs.KeyIfaceID:      req.VIF.ID,
		ovs.KeyAttachedMAC:  strings.ToLower(req.VIF.Address),
		ovs.KeyIfaceStatus:  "active",
		ovs.KeyVMUUID:       req.PodUID,
		ovs.KeyContainerID:  req.ContainerID,
		ovs.KeyPodNamespace: req.PodNamespace,
		ovs.KeyPodName:      req.PodName,
		ovs.KeyIfName:       req.IfName,
		ovs.KeyNetns:        req.Netns,
		ovs.KeyPlugMode:     mode,
	}
}

// Plug creates the veth pair, attaches the host side and configures the pod side. On failure
// everything it created is removed again.
func (p *Plugger) Plug(ctx context.Context, req *Request) (res *Result, err error) {
	if err := p.validate(req); err != nil {
		return nil, fmt.Errorf("validating plug request: %w", err)
	}
	log := logr.FromContextOrDiscard(ctx).WithValues("port", req.VIF.ID)
	names := NamesFor(req.VIF)
	mac, _ := net.ParseMAC(req.VIF.Address)

	netns, err := ns.GetNS(req.Netns)
	if err != nil {
		return nil, fmt.Errorf("opening network namespace %s: %w", req.Netns, err)
	}
	defer func() { _ = netns.Close() }()

	unlock := p.ports.Lock(req.VIF.ID)
	defer unlock()
	if res, ok := p.claim(ctx, req, netns); ok {
		return res, nil
	}

	// A previous sandbox of this pod, or an earlier attempt for this one, may have left
	// devices behind: the names are derived from the port, so they would clash. The OVS port
	// goes too, so that the agent processes the new device from scratch and the port's tag
	// (the local "wired" signal) is set anew.
	// Devices of that name that are not this port's are left alone, and the plug fails.
	if err := p.checkLeftovers(ctx, req.VIF, names); err != nil {
		return nil, err
	}
	if err := p.Switch.DelPort(ctx, names.OVSPort()); err != nil {
		return nil, fmt.Errorf("removing leftover OVS port: %w", err)
	}
	if err := deleteHostLink(names.Tap); err != nil {
		return nil, fmt.Errorf("removing leftover %s: %w", names.Tap, err)
	}
	if err := netns.Do(func(ns.NetNS) error { return deleteLink(req.IfName) }); err != nil {
		return nil, fmt.Errorf("removing leftover %s in %s: %w", req.IfName, req.Netns, err)
	}

	success := false
	defer func() {
		if success {
			return
		}
		// Use a fresh context: the request's may be what failed.
		cleanupCtx := context.WithoutCancel(ctx)
		if names.QVO != "" {
			if derr := p.unplugHybrid(cleanupCtx, names); derr != nil {
				log.Error(derr, "Rollback of hybrid plug failed")
			}
		} else if derr := p.Switch.DelPort(cleanupCtx, names.Tap); derr != nil {
			log.Error(derr, "Rollback of OVS port failed")
		}
		if derr := deleteHostLink(names.Tap); derr != nil {
			log.Error(derr, "Rollback of host veth failed", "link", names.Tap)
		}
	}()

	host, err := createVeth(names.Tap, req.IfName, mac, req.VIF.MTU, netns)
	if err != nil {
		return nil, err
	}
	if names.QVO != "" {
		if err := ensureHybrid(names, req.VIF.MTU); err != nil {
			return nil, err
		}
		if err := setMaster(names.Tap, names.Bridge); err != nil {
			return nil, err
		}
	}
	if err := setUp(names.Tap); err != nil {
		return nil, err
	}
	if err := p.Switch.AddPort(ctx, req.VIF.Bridge, names.OVSPort(), ExternalIDs(req)); err != nil {
		return nil, err
	}
	if err := netns.Do(func(ns.NetNS) error { return configureL3(req) }); err != nil {
		return nil, fmt.Errorf("configuring %s in %s: %w", req.IfName, req.Netns, err)
	}
	success = true
	return &Result{HostIfName: names.Tap, HostMAC: host.Attrs().HardwareAddr, PodMAC: mac, OVSPort: names.OVSPort()}, nil
}

// Unplug removes what Plug created for containerID. It is idempotent: ports of other
// sandboxes (of the same pod) are left alone, and a missing namespace or link is success.
func (p *Plugger) Unplug(ctx context.Context, containerID, netnsPath, ifName string) error {
	log := logr.FromContextOrDiscard(ctx)
	ifaces, err := p.Switch.FindInterfaces(ctx, ovs.KeyContainerID, containerID)
	if err != nil {
		return err
	}
	var errs []error
	for _, iface := range ifaces {
		if want := iface.ExternalIDs[ovs.KeyIfName]; want != "" && ifName != "" && want != ifName {
			continue
		}
		log.V(1).Info("Removing OVS port", "ovsPort", iface.Name)
		if iface.ExternalIDs[ovs.KeyPlugMode] == apiv1.PlugModeHybrid {
			errs = append(errs, p.unplugHybrid(ctx, hybridNamesFromQVO(iface.Name)))
			continue
		}
		if err := p.Switch.DelPort(ctx, iface.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, deleteHostLink(iface.Name))
	}
	if netnsPath != "" && ifName != "" {
		err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error { return deleteLink(ifName) })
		var notExist ns.NSPathNotExistErr
		if err != nil && !errors.As(err, &notExist) {
			errs = append(errs, fmt.Errorf("removing %s from %s: %w", ifName, netnsPath, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Plugger) unplugHybrid(ctx context.Context, n Names) error {
	var errs []error
	if err := p.Switch.DelPort(ctx, n.QVO); err != nil {
		errs = append(errs, err)
	}
	for _, l := range []string{n.Tap, n.QVB, n.Bridge} {
		errs = append(errs, deleteHostLink(l))
	}
	return errors.Join(errs...)
}

// hybridNamesFromQVO derives the hybrid device names from the qvo port name.
func hybridNamesFromQVO(qvo string) Names {
	suffix := strings.TrimPrefix(qvo, "qvo")
	return Names{Tap: "tap" + suffix, Bridge: "qbr" + suffix, QVB: "qvb" + suffix, QVO: qvo}
}
