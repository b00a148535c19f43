package neutron

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	th "github.com/gophercloud/gophercloud/v2/testhelper"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
)

const portJSON = `{"port": {"id": "p1", "name": "pod-a", "network_id": "n1", "project_id": "proj",
  "mac_address": "fa:16:3e:00:00:01", "status": "DOWN", "device_owner": "compute:kuryr", "device_id": "uid-1",
  "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.70"}], "security_groups": ["sg1"],
  "tags": ["kuryr.openstack.org/cluster=c1"], "binding:host_id": "node1", "binding:vif_type": "ovs",
  "binding:vif_details": {"bridge_name": "br-int", "ovs_hybrid_plug": false, "port_filter": true},
  "created_at": "2026-01-02T03:04:05Z"}}`

func newTestClient(t *testing.T) (th.FakeServer, Client) {
	t.Helper()
	fs := th.SetupHTTP()
	t.Cleanup(fs.Teardown)
	s, err := openstack.NoAuth(openstack.Options{NeutronEndpoint: fs.Endpoint(), Timeout: 5 * time.Second})
	th.AssertNoErr(t, err)
	c, err := New(s)
	th.AssertNoErr(t, err)
	return fs, c
}

func extension(fs th.FakeServer, present bool) {
	fs.Mux.HandleFunc("/v2.0/extensions/"+extTagOnCreate, func(w http.ResponseWriter, r *http.Request) {
		if !present {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		fmt.Fprint(w, `{"extension": {"alias": "tag-ports-during-bulk-creation"}}`)
	})
}

func TestCreatePortNoAuthSendsNoAuthHeadersAndProjectInBody(t *testing.T) {
	fs, c := newTestClient(t)
	extension(fs, true)
	fs.Mux.HandleFunc("/v2.0/ports", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, http.MethodPost)
		th.TestHeaderUnset(t, r, "X-Auth-Token")
		th.TestHeaderUnset(t, r, "X-Project-Id")
		th.TestJSONRequest(t, r, `{"port": {"name": "pod-a", "network_id": "n1", "project_id": "proj",
		  "admin_state_up": true, "fixed_ips": [{"subnet_id": "s1"}], "device_owner": "compute:kuryr",
		  "device_id": "uid-1", "binding:host_id": "node1", "security_groups": ["sg1"],
		  "tags": ["kuryr.openstack.org/cluster=c1"]}}`)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, portJSON)
	})
	p, err := c.CreatePort(context.Background(), PortCreateOpts{
		Name: "pod-a", NetworkID: "n1", ProjectID: "proj", SubnetIDs: []string{"s1"},
		DeviceOwner: DeviceOwnerKuryr, DeviceID: "uid-1", HostID: "node1",
		SecurityGroups: []string{"sg1"}, Tags: []string{"kuryr.openstack.org/cluster=c1"},
	})
	th.AssertNoErr(t, err)
	th.AssertEquals(t, "p1", p.ID)
	th.AssertEquals(t, "node1", p.HostID)
	th.AssertEquals(t, "br-int", p.VIFDetails["bridge_name"])
	th.AssertEquals(t, "10.0.0.70", p.FixedIPs[0].IPAddress)
	th.AssertEquals(t, 2026, p.CreatedAt.Year())
}

func TestCreatePortTagsAfterwardsWithoutExtension(t *testing.T) {
	fs, c := newTestClient(t)
	extension(fs, false)
	fs.Mux.HandleFunc("/v2.0/ports", func(w http.ResponseWriter, r *http.Request) {
		th.TestJSONRequest(t, r, `{"port": {"network_id": "n1", "admin_state_up": true}}`)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, portJSON)
	})
	tagged := false
	fs.Mux.HandleFunc("/v2.0/ports/p1/tags", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, http.MethodPut)
		th.TestJSONRequest(t, r, `{"tags": ["t1"]}`)
		tagged = true
		fmt.Fprint(w, `{"tags": ["t1"]}`)
	})
	p, err := c.CreatePort(context.Background(), PortCreateOpts{NetworkID: "n1", Tags: []string{"t1"}})
	th.AssertNoErr(t, err)
	th.AssertEquals(t, true, tagged)
	th.AssertDeepEquals(t, []string{"t1"}, p.Tags)
}

func TestBulkCreatePorts(t *testing.T) {
	fs, c := newTestClient(t)
	extension(fs, true)
	fs.Mux.HandleFunc("/v2.0/ports", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, http.MethodPost)
		th.TestJSONRequest(t, r, `{"ports": [{"network_id": "n1", "admin_state_up": true, "tags": ["a"]},
		  {"network_id": "n1", "admin_state_up": true, "tags": ["b"]}]}`)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"ports": [{"id": "p1", "tags": ["a"]}, {"id": "p2", "tags": ["b"]}]}`)
	})
	ps, err := c.CreatePorts(context.Background(), []PortCreateOpts{
		{NetworkID: "n1", Tags: []string{"a"}}, {NetworkID: "n1", Tags: []string{"b"}},
	})
	th.AssertNoErr(t, err)
	th.AssertEquals(t, 2, len(ps))
	th.AssertEquals(t, "p2", ps[1].ID)
}

func TestListPortsFiltersAndFollowsPages(t *testing.T) {
	fs, c := newTestClient(t)
	fs.Mux.HandleFunc("/v2.0/ports", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		q := r.URL.Query()
		th.AssertEquals(t, "kuryr.openstack.org/cluster=c1,x", q.Get("tags"))
		th.AssertEquals(t, "uid-1", q.Get("device_id"))
		if q.Get("marker") == "" {
			fmt.Fprintf(w, `{"ports": [{"id": "p1"}], "ports_links": [{"rel": "next", "href": "%sv2.0/ports?tags=%s&device_id=uid-1&marker=p1"}]}`,
				fs.Endpoint(), "kuryr.openstack.org%2Fcluster%3Dc1%2Cx")
			return
		}
		fmt.Fprint(w, `{"ports": [{"id": "p2"}]}`)
	})
	ps, err := c.ListPorts(context.Background(), PortFilter{Tags: []string{"kuryr.openstack.org/cluster=c1", "x"}, DeviceID: "uid-1"})
	th.AssertNoErr(t, err)
	th.AssertEquals(t, 2, len(ps))
}

func TestListPortsNeverHidesAFailedPage(t *testing.T) {
	fs, c := newTestClient(t)
	fs.Mux.HandleFunc("/v2.0/ports", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("marker") == "" {
			fmt.Fprintf(w, `{"ports": [{"id": "p1"}], "ports_links": [{"rel": "next", "href": "%sv2.0/ports?marker=p1"}]}`, fs.Endpoint())
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	ps, err := c.ListPorts(context.Background(), PortFilter{})
	if err == nil || ps != nil {
		t.Fatalf("ListPorts = %v, %v; want nil and an error", ps, err)
	}
	th.AssertEquals(t, openstack.ClassTransient, openstack.ClassOf(err))
}

func TestDeletePortAlreadyGoneIsSuccess(t *testing.T) {
	fs, c := newTestClient(t)
	fs.Mux.HandleFunc("/v2.0/ports/gone", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, http.MethodDelete)
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"NeutronError": {"type": "PortNotFound", "message": "Port gone could not be found.", "detail": ""}}`)
	})
	th.AssertNoErr(t, c.DeletePort(context.Background(), "gone"))
}

func TestErrorClasses(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   openstack.Class
	}{
		{"not found", 404, `{"NeutronError": {"type": "PortNotFound", "message": "no"}}`, openstack.ClassNotFound},
		{"over quota", 409, `{"NeutronError": {"type": "OverQuota", "message": "Quota exceeded for resources: ['port']."}}`, openstack.ClassOverQuota},
		{"subnet exhausted", 409, `{"NeutronError": {"type": "IpAddressGenerationFailure", "message": "No more IP addresses available on network n1."}}`, openstack.ClassSubnetExhausted},
		{"other conflict", 409, `{"NeutronError": {"type": "MacAddressInUse", "message": "in use"}}`, openstack.ClassConflict},
		{"server error", 500, `{"NeutronError": {"type": "HTTPInternalServerError", "message": "boom"}}`, openstack.ClassTransient},
		{"unavailable", 503, ``, openstack.ClassTransient},
		{"bad request", 400, `{"NeutronError": {"type": "HTTPBadRequest", "message": "Invalid input"}}`, openstack.ClassTerminal},
		{"forbidden", 403, `{"NeutronError": {"type": "HTTPForbidden", "message": "no"}}`, openstack.ClassForbidden},
		{"unauthorized", 401, `{"error": {"message": "The request you have made requires authentication.", "title": "Unauthorized"}}`, openstack.ClassUnauthorized},
		{"not implemented", 501, ``, openstack.ClassTerminal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs, c := newTestClient(t)
			fs.Mux.HandleFunc("/v2.0/ports/p1", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			p, err := c.GetPort(context.Background(), "p1")
			if p != nil {
				t.Errorf("GetPort returned a port with an error")
			}
			th.AssertEquals(t, tc.want, openstack.ClassOf(err))
			var e *openstack.Error
			if !errors.As(err, &e) || e.Op != "get port" || e.StatusCode != tc.status {
				t.Errorf("error = %#v", err)
			}
		})
	}
}

func TestConnectionErrorIsTransient(t *testing.T) {
	fs, c := newTestClient(t)
	fs.Teardown()
	_, err := c.GetNetwork(context.Background(), "n1")
	th.AssertEquals(t, openstack.ClassTransient, openstack.ClassOf(err))
	th.AssertEquals(t, true, openstack.IsRetryable(err))
}

func TestGetNetworkSubnetSecurityGroup(t *testing.T) {
	fs, c := newTestClient(t)
	fs.Mux.HandleFunc("/v2.0/networks/n1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"network": {"id": "n1", "mtu": 1450, "provider:network_type": "vxlan"}}`)
	})
	fs.Mux.HandleFunc("/v2.0/subnets/s1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"subnet": {"id": "s1", "network_id": "n1", "cidr": "10.0.0.64/26", "gateway_ip": "10.0.0.65",
		  "dns_nameservers": ["8.8.8.8"], "host_routes": [{"destination": "10.1.0.0/16", "nexthop": "10.0.0.66"}]}}`)
	})
	fs.Mux.HandleFunc("/v2.0/security-groups/sg1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"security_group": {"id": "sg1", "name": "default"}}`)
	})
	ctx := context.Background()
	n, err := c.GetNetwork(ctx, "n1")
	th.AssertNoErr(t, err)
	th.AssertEquals(t, 1450, n.MTU)
	s, err := c.GetSubnet(ctx, "s1")
	th.AssertNoErr(t, err)
	th.AssertEquals(t, "10.0.0.66", s.HostRoutes[0].NextHop)
	sg, err := c.GetSecurityGroup(ctx, "sg1")
	th.AssertNoErr(t, err)
	th.AssertEquals(t, "default", sg.Name)
}

func TestUpdatePortSendsOnlySetFields(t *testing.T) {
	fs, c := newTestClient(t)
	fs.Mux.HandleFunc("/v2.0/ports/p1", func(w http.ResponseWriter, r *http.Request) {
		th.TestMethod(t, r, http.MethodPut)
		th.TestJSONRequest(t, r, `{"port": {"binding:host_id": "node1"}}`)
		fmt.Fprint(w, portJSON)
	})
	host := "node1"
	p, err := c.UpdatePort(context.Background(), "p1", PortUpdateOpts{HostID: &host})
	th.AssertNoErr(t, err)
	th.AssertEquals(t, "p1", p.ID)
}

func TestListPortsByIDs(t *testing.T) {
	fs, c := newTestClient(t)
	fs.Mux.HandleFunc("/v2.0/ports", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		q := r.URL.Query()
		th.AssertDeepEquals(t, []string{"p1", "p2"}, q["id"])
		th.AssertEquals(t, "ACTIVE", q.Get("status"))
		fmt.Fprint(w, `{"ports": [{"id": "p2", "status": "ACTIVE"}]}`)
	})
	ps, err := c.ListPorts(context.Background(), PortFilter{IDs: []string{"p1", "p2"}, Status: PortStatusActive})
	th.AssertNoErr(t, err)
	th.AssertEquals(t, 1, len(ps))
	th.AssertEquals(t, "p2", ps[0].ID)
}

func TestBulkCreateTagFailureLeavesNoUntaggedPorts(t *testing.T) {
	fs, c := newTestClient(t)
	extension(fs, false)
	live := map[string]bool{}
	fs.Mux.HandleFunc("/v2.0/ports", func(w http.ResponseWriter, r *http.Request) {
		live["b1"], live["b2"] = true, true
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"ports": [{"id": "b1", "status": "DOWN"}, {"id": "b2", "status": "DOWN"}]}`)
	})
	fs.Mux.HandleFunc("/v2.0/ports/b1/tags", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"tags":[]}`) })
	fs.Mux.HandleFunc("/v2.0/ports/b2/tags", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	for _, id := range []string{"b1", "b2"} {
		fs.Mux.HandleFunc("/v2.0/ports/"+id, func(w http.ResponseWriter, r *http.Request) {
			th.TestMethod(t, r, http.MethodDelete)
			delete(live, id)
			w.WriteHeader(http.StatusNoContent)
		})
	}
	tags := []string{"kuryr.openstack.org/cluster=c1", "kuryr.openstack.org/pool=available"}
	ports, err := c.CreatePorts(context.Background(), []PortCreateOpts{{NetworkID: "n", Tags: tags}, {NetworkID: "n", Tags: tags}})
	if err == nil || len(ports) != 0 {
		t.Fatalf("CreatePorts = %v, %v; want an error and no ports", ports, err)
	}
	if len(live) != 0 {
		t.Errorf("Neutron still holds %v after a failed tag request", live)
	}
}

func TestCreateFailsWhenTheTagExtensionCannotBeChecked(t *testing.T) {
	fs, c := newTestClient(t)
	fs.Mux.HandleFunc("/v2.0/extensions/"+extTagOnCreate, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	created := false
	fs.Mux.HandleFunc("/v2.0/ports", func(w http.ResponseWriter, r *http.Request) { created = true })
	_, err := c.CreatePort(context.Background(), PortCreateOpts{NetworkID: "n", Tags: []string{"t"}})
	if err == nil || created {
		t.Fatalf("create with an unknown tag extension: err %v, port created %v", err, created)
	}
	th.AssertEquals(t, openstack.ClassTransient, openstack.ClassOf(err))
}
