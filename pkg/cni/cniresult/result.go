// Package cniresult builds the CNI result for a plugged VIF. The daemon always answers in
// CNI 1.0.0; the plugin converts to the version of the network configuration.
package cniresult

import (
	"net"

	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug"
)

// Version of the results built here.
const Version = "1.0.0"

// Input is what a result describes.
type Input struct {
	VIF        *apiv1.VIF
	IfName     string
	Netns      string
	HostIfName string
	HostMAC    string
	// Default is true for the pod's primary interface (gets the default route).
	Default bool
}

// Build returns the result: interface 0 is the host veth, interface 1 the pod's interface;
// every fixed IP points at interface 1 with its subnet gateway.
func Build(in Input) (*types100.Result, error) {
	res := &types100.Result{CNIVersion: Version}
	res.Interfaces = []*types100.Interface{
		{Name: in.HostIfName, Mac: in.HostMAC},
		{Name: in.IfName, Mac: in.VIF.Address, Sandbox: in.Netns},
	}
	addrs, err := plug.Addresses(in.VIF)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		res.IPs = append(res.IPs, &types100.IPConfig{
			Interface: types100.Int(1),
			Address:   a.IPNet,
			Gateway:   a.Gateway,
		})
	}
	routes, err := plug.Routes(in.VIF, in.Default)
	if err != nil {
		return nil, err
	}
	for _, r := range routes {
		res.Routes = append(res.Routes, &types.Route{Dst: r.Dst, GW: r.GW})
	}
	seen := map[string]bool{}
	for _, s := range in.VIF.Subnets {
		for _, d := range s.DNS {
			if net.ParseIP(d) != nil && !seen[d] {
				seen[d] = true
				res.DNS.Nameservers = append(res.DNS.Nameservers, d)
			}
		}
	}
	return res, nil
}
