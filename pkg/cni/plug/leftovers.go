package plug

import (
	"context"
	"errors"
	"fmt"

	"github.com/containernetworking/plugins/pkg/netlinksafe"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
)

// ErrForeignDevice is returned when a device with a name derived from the port exists and
// is not the port's: it is left alone and the port is not plugged.
var ErrForeignDevice = errors.New("device is not this port's")

// hostLink is a host device name with the link type kuryr creates under it.
type hostLink struct{ name, kind string }

// checkLeftovers makes sure the devices named after the port, which a plug replaces, are
// this port's: an OVS interface of that name must carry the port's iface-id, and a host
// link of that name that is not in OVS must be a veth (the hybrid qbr a Linux bridge).
func (p *Plugger) checkLeftovers(ctx context.Context, vif *apiv1.VIF, names Names) error {
	ovsPort := names.OVSPort()
	iface, inOVS, err := p.Switch.Interface(ctx, ovsPort)
	if err != nil {
		return fmt.Errorf("looking up OVS interface %s: %w", ovsPort, err)
	}
	if inOVS && iface.ExternalIDs[ovs.KeyIfaceID] != vif.ID {
		return fmt.Errorf("OVS interface %s has iface-id %q, not %s: %w",
			ovsPort, iface.ExternalIDs[ovs.KeyIfaceID], vif.ID, ErrForeignDevice)
	}
	links := []hostLink{{names.Tap, "veth"}}
	if names.QVO != "" {
		links = append(links, hostLink{names.QVB, "veth"}, hostLink{names.QVO, "veth"}, hostLink{names.Bridge, "bridge"})
	}
	for _, l := range links {
		if l.name == ovsPort && inOVS {
			continue
		}
		link, err := netlinksafe.LinkByName(l.name)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("looking up link %s: %w", l.name, err)
		}
		if link.Type() != l.kind {
			return fmt.Errorf("link %s is a %s, not a %s of port %s: %w", l.name, link.Type(), l.kind, vif.ID, ErrForeignDevice)
		}
	}
	return nil
}
