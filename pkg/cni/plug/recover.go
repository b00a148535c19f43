package plug

import (
	"context"
	"fmt"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/go-logr/logr"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
)

// Lister lists the OVS interfaces that carry an external ID.
type Lister interface {
	ListInterfaces(ctx context.Context, key string) ([]ovs.Interface, error)
}

// Plugged is one sandbox interface found in OVS.
type Plugged struct {
	OVSPort      string
	PortID       string
	ContainerID  string
	PodNamespace string
	PodName      string
	IfName       string
	Netns        string
	Stale        bool
}

// Recover reads what kuryr plugged from the OVS external IDs. Ports whose pod-side veth is gone
// (the sandbox's namespace was destroyed without a DEL) are removed; everything else, i.e.
// every running pod, is left exactly as it is.
func (p *Plugger) Recover(ctx context.Context, lister Lister) ([]Plugged, error) {
	log := logr.FromContextOrDiscard(ctx)
	ifaces, err := lister.ListInterfaces(ctx, ovs.KeyContainerID)
	if err != nil {
		return nil, fmt.Errorf("recovering plugged ports: %w", err)
	}
	res := make([]Plugged, 0, len(ifaces))
	for _, i := range ifaces {
		pl := Plugged{
			OVSPort: i.Name, PortID: i.ExternalIDs[ovs.KeyIfaceID], ContainerID: i.ExternalIDs[ovs.KeyContainerID],
			PodNamespace: i.ExternalIDs[ovs.KeyPodNamespace], PodName: i.ExternalIDs[ovs.KeyPodName],
			IfName: i.ExternalIDs[ovs.KeyIfName], Netns: i.ExternalIDs[ovs.KeyNetns],
		}
		hybrid := i.ExternalIDs[ovs.KeyPlugMode] == apiv1.PlugModeHybrid
		tap := i.Name
		if hybrid {
			tap = hybridNamesFromQVO(i.Name).Tap
		}
		if _, err := netlinksafe.LinkByName(tap); err != nil {
			if !isNotFound(err) {
				return nil, fmt.Errorf("looking up %s: %w", tap, err)
			}
			pl.Stale = true
			log.Info("Removing stale OVS port", "ovsPort", i.Name, "pod", pl.PodNamespace+"/"+pl.PodName)
			if hybrid {
				err = p.unplugHybrid(ctx, hybridNamesFromQVO(i.Name))
			} else {
				err = p.Switch.DelPort(ctx, i.Name)
			}
			if err != nil {
				log.Error(err, "Removing stale OVS port failed", "ovsPort", i.Name)
			}
		}
		res = append(res, pl)
	}
	return res, nil
}
