package octavia

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	th "github.com/gophercloud/gophercloud/v2/testhelper"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
)

func newTestClient(t *testing.T) (th.FakeServer, Client) {
	t.Helper()
	fs := th.SetupHTTP()
	t.Cleanup(fs.Teardown)
	s, err := openstack.NoAuth(openstack.Options{})
	th.AssertNoErr(t, err)
	c, err := New(s, fs.Endpoint())
	th.AssertNoErr(t, err)
	return fs, c
}

const lbJSON = `{"id": "lb1", "name": "default/web", "project_id": "k8s", "vip_address": "10.0.0.130",
  "vip_port_id": "vp1", "vip_subnet_id": "s1", "provider": "ovn", "provisioning_status": "PENDING_CREATE",
  "operating_status": "OFFLINE", "tags": ["kuryr.openstack.org/cluster=c1"]}`

func TestGetListDelete(t *testing.T) {
	fs, c := newTestClient(t)
	fs.Mux.HandleFunc("/v2.0/lbaas/loadbalancers/lb1", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"loadbalancer": `+lbJSON+`}`)
		case http.MethodDelete:
			th.TestFormValues(t, r, map[string]string{"cascade": "true"})
			w.WriteHeader(http.StatusNoContent)
		}
	})
	fs.Mux.HandleFunc("/v2.0/lbaas/loadbalancers/gone", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	})
	fs.Mux.HandleFunc("/v2.0/lbaas/loadbalancers", func(w http.ResponseWriter, r *http.Request) {
		th.TestFormValues(t, r, map[string]string{"tags": "kuryr.openstack.org/cluster=c1", "project_id": "k8s"})
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"loadbalancers": [`+lbJSON+`]}`)
	})
	ctx := context.Background()
	lb, err := c.GetLoadBalancer(ctx, "lb1")
	th.AssertNoErr(t, err)
	if lb.VIPAddress != "10.0.0.130" || lb.Provider != "ovn" || !lb.Pending() || lb.Tags[0] != "kuryr.openstack.org/cluster=c1" {
		t.Errorf("load balancer = %+v", lb)
	}
	lbs, err := c.ListLoadBalancers(ctx, Filter{Tags: []string{"kuryr.openstack.org/cluster=c1"}, ProjectID: "k8s"})
	if err != nil || len(lbs) != 1 || lbs[0].ID != "lb1" {
		t.Errorf("list = %+v, %v", lbs, err)
	}
	th.AssertNoErr(t, c.DeleteLoadBalancer(ctx, "lb1"))
	th.AssertNoErr(t, c.DeleteLoadBalancer(ctx, "gone"))
	if _, err := c.GetLoadBalancer(ctx, "gone"); !openstack.IsNotFound(err) {
		t.Errorf("missing load balancer: %v", err)
	}
}

func TestListNeverHidesAFailure(t *testing.T) {
	fs, c := newTestClient(t)
	fs.Mux.HandleFunc("/v2.0/lbaas/loadbalancers", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	lbs, err := c.ListLoadBalancers(context.Background(), Filter{})
	if err == nil || lbs != nil || openstack.ClassOf(err) != openstack.ClassTransient {
		t.Errorf("list = %v, %v; want a transient error and no list", lbs, err)
	}
}
