package cniresult

import (
	"encoding/json"
	"testing"

	types040 "github.com/containernetworking/cni/pkg/types/040"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

func testVIF() *apiv1.VIF {
	return &apiv1.VIF{
		ID: "0123456789abcdef", Address: "fa:16:3e:11:22:33", MTU: 1450, Bridge: "br-int", PlugMode: "native",
		Subnets: []apiv1.Subnet{{
			CIDR: "10.0.0.64/26", Gateway: "10.0.0.65", DNS: []string{"10.0.0.2", "10.0.0.2", "bogus"},
			Routes: []apiv1.Route{{CIDR: "192.168.0.0/24", Gateway: "10.0.0.66"}},
			IPs:    []string{"10.0.0.70"},
		}},
	}
}

func TestBuild(t *testing.T) {
	res, err := Build(Input{VIF: testVIF(), IfName: "eth0", Netns: "/var/run/netns/x", HostIfName: "tap0123456789a", HostMAC: "aa:bb:cc:dd:ee:ff", Default: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Interfaces) != 2 || res.Interfaces[1].Sandbox != "/var/run/netns/x" || res.Interfaces[1].Mac != "fa:16:3e:11:22:33" || res.Interfaces[0].Name != "tap0123456789a" {
		t.Fatalf("interfaces: %+v %+v", res.Interfaces[0], res.Interfaces[1])
	}
	if len(res.IPs) != 1 || res.IPs[0].Address.String() != "10.0.0.70/26" || res.IPs[0].Gateway.String() != "10.0.0.65" || *res.IPs[0].Interface != 1 {
		t.Fatalf("ips: %+v", res.IPs[0])
	}
	if len(res.Routes) != 2 || res.Routes[0].Dst.String() != "192.168.0.0/24" || res.Routes[1].Dst.String() != "0.0.0.0/0" || res.Routes[1].GW.String() != "10.0.0.65" {
		t.Fatalf("routes: %v", res.Routes)
	}
	if len(res.DNS.Nameservers) != 1 || res.DNS.Nameservers[0] != "10.0.0.2" {
		t.Fatalf("dns: %v", res.DNS)
	}
}

func TestBuildNonDefaultHasNoDefaultRoute(t *testing.T) {
	res, err := Build(Input{VIF: testVIF(), IfName: "eth1", HostIfName: "tapx"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Routes) != 1 {
		t.Fatalf("routes: %v", res.Routes)
	}
}

func TestBuildRejectsBadAddresses(t *testing.T) {
	v := testVIF()
	v.Subnets[0].IPs = []string{"not-an-ip"}
	if _, err := Build(Input{VIF: v}); err == nil {
		t.Fatal("expected an error")
	}
}

func TestConvertsToOlderVersions(t *testing.T) {
	res, err := Build(Input{VIF: testVIF(), IfName: "eth0", Netns: "/n", HostIfName: "tapx", HostMAC: "aa:bb:cc:dd:ee:ff", Default: true})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	back, err := types100.NewResult(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"0.3.1", "0.4.0"} {
		old, err := back.GetAsVersion(v)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		r := old.(*types040.Result)
		if r.CNIVersion != v || len(r.IPs) != 1 || r.IPs[0].Address.String() != "10.0.0.70/26" || *r.IPs[0].Interface != 1 {
			t.Fatalf("%s: %+v", v, r)
		}
	}
}
