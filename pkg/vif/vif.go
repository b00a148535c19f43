// Package vif turns a Neutron port, with its network and subnets, into the VIF the node
// daemon plugs (api/v1.VIF). It has no Kubernetes client dependencies.
package vif

import (
	"strings"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// Options are the [neutron_defaults] values that shape a VIF.
type Options struct {
	// OVSBridge is used when Neutron does not name the bridge in binding:vif_details.
	OVSBridge string
	// DeviceMTU, when non-zero, caps the network MTU (network_device_mtu).
	DeviceMTU int
}

// FromPort builds the VIF of port p on network n. subnets holds the subnets of p's fixed
// IPs by ID; a fixed IP whose subnet is missing is still recorded, without the subnet details.
func FromPort(p *neutron.Port, n *neutron.Network, subnets map[string]*neutron.Subnet, o Options) apiv1.VIF {
	v := apiv1.VIF{
		ID:             p.ID,
		Address:        p.MACAddress,
		NetworkID:      p.NetworkID,
		MTU:            mtu(n, o.DeviceMTU),
		Bridge:         o.OVSBridge,
		VIFType:        apiv1.VIFTypeOVS,
		PlugMode:       apiv1.PlugModeNative,
		VIFName:        apiv1.VIFNameForPort(p.ID),
		PortFilter:     detailBool(p.VIFDetails, "port_filter"),
		ProjectID:      p.ProjectID,
		SecurityGroups: append([]string(nil), p.SecurityGroups...),
		Active:         p.Status == neutron.PortStatusActive,
	}
	if b, ok := p.VIFDetails["bridge_name"].(string); ok && b != "" {
		v.Bridge = b
	}
	if detailBool(p.VIFDetails, "ovs_hybrid_plug") {
		v.PlugMode = apiv1.PlugModeHybrid
	}
	switch p.VIFType {
	case "", neutron.VIFTypeUnbound, neutron.VIFTypeBindingFailed:
	default:
		v.VIFType = p.VIFType
	}
	index := map[string]int{}
	for _, ip := range p.FixedIPs {
		i, seen := index[ip.SubnetID]
		if !seen {
			i = len(v.Subnets)
			index[ip.SubnetID] = i
			v.Subnets = append(v.Subnets, subnet(ip.SubnetID, subnets[ip.SubnetID]))
		}
		v.Subnets[i].IPs = append(v.Subnets[i].IPs, ip.IPAddress)
	}
	return v
}

func subnet(id string, s *neutron.Subnet) apiv1.Subnet {
	out := apiv1.Subnet{ID: id}
	if s == nil {
		return out
	}
	out.CIDR = s.CIDR
	out.Gateway = s.GatewayIP
	out.DNS = append([]string(nil), s.DNSNameservers...)
	for _, r := range s.HostRoutes {
		out.Routes = append(out.Routes, apiv1.Route{CIDR: r.Destination, Gateway: r.NextHop})
	}
	return out
}

// mtu is the network MTU, lowered to network_device_mtu when that is set and smaller.
func mtu(n *neutron.Network, deviceMTU int) int {
	m := 0
	if n != nil {
		m = n.MTU
	}
	if deviceMTU > 0 && (m == 0 || deviceMTU < m) {
		return deviceMTU
	}
	return m
}

// detailBool reads a binding:vif_details flag; Neutron reports booleans, older plugins strings.
func detailBool(details map[string]any, key string) bool {
	switch v := details[key].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}
