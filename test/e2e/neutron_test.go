//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

// neutron is a minimal noauth Neutron client (no auth headers, project_id in bodies).
type neutron struct{ base string }

func newNeutron() *neutron {
	return &neutron{base: strings.TrimSuffix(tb["NEUTRON_ENDPOINT"], "/") + "/v2.0"}
}

func (n *neutron) do(method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("neutron %s %s: HTTP %d: %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}

type port struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	MAC        string `json:"mac_address"`
	NetworkID  string `json:"network_id"`
	VIFType    string `json:"binding:vif_type"`
	VIFDetails struct {
		Bridge string `json:"bridge_name"`
		Hybrid bool   `json:"ovs_hybrid_plug"`
	} `json:"binding:vif_details"`
	FixedIPs []struct {
		SubnetID string `json:"subnet_id"`
		IP       string `json:"ip_address"`
	} `json:"fixed_ips"`
}

func (n *neutron) createPort(t *testing.T, name string) *port {
	t.Helper()
	var out struct{ Port port }
	body := map[string]any{"port": map[string]any{
		"name": name, "network_id": tb["POD_NETWORK_ID"], "project_id": tb["K8S_PROJECT_ID"],
		"fixed_ips": []map[string]string{{"subnet_id": tb["POD_SUBNET_ID"]}}, "security_groups": []string{tb["POD_SG_ID"]},
		"device_owner": "compute:kuryr", "device_id": name, "binding:host_id": tb["NODE_NAME"],
	}}
	if _, err := n.do(http.MethodPost, "/ports", body, &out); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = n.do(http.MethodDelete, "/ports/"+out.Port.ID, nil, nil) })
	return &out.Port
}

func (n *neutron) getPort(id string) (*port, int, error) {
	var out struct{ Port port }
	code, err := n.do(http.MethodGet, "/ports/"+id, nil, &out)
	return &out.Port, code, err
}

func (n *neutron) portsByName(name string) ([]port, error) {
	var out struct{ Ports []port }
	_, err := n.do(http.MethodGet, "/ports?name="+name, nil, &out)
	return out.Ports, err
}

// waitPortStatus polls until the port has status (or, for "", is gone).
func (n *neutron) waitPortStatus(t *testing.T, id, status string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		p, code, err := n.getPort(id)
		if status == "" && code == http.StatusNotFound {
			return time.Since(start)
		}
		if err == nil && p.Status == status {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("port %s did not reach status %q within %v", id, status, timeout)
	return 0
}

// vifFor builds the VIF the controller would write for p.
func (n *neutron) vifFor(t *testing.T, p *port) *apiv1.VIF {
	t.Helper()
	var sn struct {
		Subnet struct {
			CIDR       string   `json:"cidr"`
			Gateway    string   `json:"gateway_ip"`
			DNS        []string `json:"dns_nameservers"`
			HostRoutes []struct {
				Destination string `json:"destination"`
				NextHop     string `json:"nexthop"`
			} `json:"host_routes"`
		}
	}
	if _, err := n.do(http.MethodGet, "/subnets/"+p.FixedIPs[0].SubnetID, nil, &sn); err != nil {
		t.Fatal(err)
	}
	var nw struct{ Network struct{ MTU int } }
	if _, err := n.do(http.MethodGet, "/networks/"+p.NetworkID, nil, &nw); err != nil {
		t.Fatal(err)
	}
	s := apiv1.Subnet{ID: p.FixedIPs[0].SubnetID, CIDR: sn.Subnet.CIDR, Gateway: sn.Subnet.Gateway, DNS: sn.Subnet.DNS, IPs: []string{p.FixedIPs[0].IP}}
	for _, r := range sn.Subnet.HostRoutes {
		s.Routes = append(s.Routes, apiv1.Route{CIDR: r.Destination, Gateway: r.NextHop})
	}
	mode := apiv1.PlugModeNative
	if p.VIFDetails.Hybrid {
		mode = apiv1.PlugModeHybrid
	}
	bridge := p.VIFDetails.Bridge
	if bridge == "" || mode == apiv1.PlugModeHybrid {
		bridge = "br-int"
	}
	return &apiv1.VIF{
		ID: p.ID, Address: p.MAC, NetworkID: p.NetworkID, MTU: nw.Network.MTU, Subnets: []apiv1.Subnet{s},
		Bridge: bridge, VIFType: p.VIFType, PlugMode: mode, VIFName: apiv1.VIFNameForPort(p.ID),
	}
}
