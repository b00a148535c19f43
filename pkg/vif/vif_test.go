package vif

import (
	"reflect"
	"testing"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

func TestFromPort(t *testing.T) {
	port := &neutron.Port{
		ID: "0123456789abcdef", MACAddress: "fa:16:3e:00:00:01", NetworkID: "n1", ProjectID: "proj",
		Status: "ACTIVE", VIFType: "ovs", SecurityGroups: []string{"sg1"},
		VIFDetails: map[string]any{"port_filter": true, "ovs_hybrid_plug": false},
		FixedIPs:   []neutron.FixedIP{{SubnetID: "s1", IPAddress: "10.0.0.70"}, {SubnetID: "s1", IPAddress: "10.0.0.71"}},
	}
	net := &neutron.Network{ID: "n1", MTU: 1450}
	subnets := map[string]*neutron.Subnet{"s1": {
		ID: "s1", CIDR: "10.0.0.64/26", GatewayIP: "10.0.0.65", DNSNameservers: []string{"10.0.0.2"},
		HostRoutes: []neutron.HostRoute{{Destination: "10.1.0.0/16", NextHop: "10.0.0.66"}},
	}}
	got := FromPort(port, net, subnets, Options{OVSBridge: "br-int"})
	want := apiv1.VIF{
		ID: "0123456789abcdef", Address: "fa:16:3e:00:00:01", NetworkID: "n1", MTU: 1450,
		Bridge: "br-int", VIFType: "ovs", PlugMode: apiv1.PlugModeNative, VIFName: "tap0123456789a",
		PortFilter: true, ProjectID: "proj", SecurityGroups: []string{"sg1"}, Active: true,
		Subnets: []apiv1.Subnet{{
			ID: "s1", CIDR: "10.0.0.64/26", Gateway: "10.0.0.65", DNS: []string{"10.0.0.2"},
			Routes: []apiv1.Route{{CIDR: "10.1.0.0/16", Gateway: "10.0.0.66"}},
			IPs:    []string{"10.0.0.70", "10.0.0.71"},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FromPort =\n%+v\nwant\n%+v", got, want)
	}
}

func TestFromPortBindingDetails(t *testing.T) {
	port := &neutron.Port{ID: "p", Status: "DOWN", VIFType: "binding_failed",
		VIFDetails: map[string]any{"bridge_name": "br-alt", "ovs_hybrid_plug": "True"}}
	got := FromPort(port, &neutron.Network{MTU: 1500}, nil, Options{OVSBridge: "br-int", DeviceMTU: 1400})
	if got.Bridge != "br-alt" || got.PlugMode != apiv1.PlugModeHybrid || got.MTU != 1400 || got.Active || got.VIFType != "ovs" {
		t.Fatalf("FromPort = %+v", got)
	}
	if m := mtu(&neutron.Network{MTU: 1300}, 1400); m != 1300 {
		t.Errorf("mtu = %d, want the smaller network MTU", m)
	}
}
