package fake

import (
	"context"
	"errors"
	"testing"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/octavia"
)

func TestOctaviaFakeFiltersAndInjectsFaults(t *testing.T) {
	o := NewOctavia(octavia.LoadBalancer{ID: "a", ProjectID: "p", Tags: []string{"c=1", "x"}},
		octavia.LoadBalancer{ID: "b", ProjectID: "p", Tags: []string{"c=2"}})
	ctx := context.Background()
	lbs, err := o.ListLoadBalancers(ctx, octavia.Filter{Tags: []string{"c=1"}, ProjectID: "p"})
	if err != nil || len(lbs) != 1 || lbs[0].ID != "a" {
		t.Errorf("list = %+v, %v", lbs, err)
	}
	boom := errors.New("boom")
	o.SetFail(func(op openstack.Op) error {
		if op == octavia.OpDeleteLoadBalancer {
			return boom
		}
		return nil
	})
	if err := o.DeleteLoadBalancer(ctx, "a"); !errors.Is(err, boom) {
		t.Errorf("delete = %v, want the injected failure", err)
	}
	o.SetFail(nil)
	if err := o.DeleteLoadBalancer(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.GetLoadBalancer(ctx, "a"); !openstack.IsNotFound(err) {
		t.Errorf("deleted load balancer: %v", err)
	}
	if n := o.Calls(octavia.OpDeleteLoadBalancer); n != 2 {
		t.Errorf("%d delete calls counted, want 2", n)
	}
}
