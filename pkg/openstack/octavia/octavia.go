// Package octavia is the Octavia client: load balancers, read, listed by tag and deleted
// with everything under them. Services as load balancers build on it.
package octavia

import (
	"context"
	"errors"
	"fmt"

	"github.com/gophercloud/gophercloud/v2"
	gcopenstack "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
)

// Operations, as metrics labels and for fault injection in fakes.
const (
	OpGetLoadBalancer    openstack.Op = "get load balancer"
	OpListLoadBalancers  openstack.Op = "list load balancers"
	OpDeleteLoadBalancer openstack.Op = "delete load balancer"
)

// Provisioning states of Octavia objects.
const (
	StatusActive        = "ACTIVE"
	StatusError         = "ERROR"
	StatusPendingCreate = "PENDING_CREATE"
	StatusPendingUpdate = "PENDING_UPDATE"
	StatusPendingDelete = "PENDING_DELETE"
)

// Client is what the controllers need from Octavia.
type Client interface {
	GetLoadBalancer(ctx context.Context, id string) (*LoadBalancer, error)
	// ListLoadBalancers returns every load balancer that matches, or an error: never a
	// partial list.
	ListLoadBalancers(ctx context.Context, f Filter) ([]LoadBalancer, error)
	// DeleteLoadBalancer deletes a load balancer with its listeners, pools and members; one
	// that is already gone counts as deleted.
	DeleteLoadBalancer(ctx context.Context, id string) error
}

// LoadBalancer is an Octavia load balancer.
type LoadBalancer struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	ProjectID          string   `json:"project_id"`
	VIPAddress         string   `json:"vip_address"`
	VIPPortID          string   `json:"vip_port_id"`
	VIPSubnetID        string   `json:"vip_subnet_id"`
	Provider           string   `json:"provider"`
	ProvisioningStatus string   `json:"provisioning_status"`
	OperatingStatus    string   `json:"operating_status"`
	Tags               []string `json:"tags"`
}

// Pending reports whether Octavia is still working on the load balancer.
func (lb *LoadBalancer) Pending() bool {
	switch lb.ProvisioningStatus {
	case StatusPendingCreate, StatusPendingUpdate, StatusPendingDelete:
		return true
	}
	return false
}

// Filter selects load balancers. Tags must all be present.
type Filter struct {
	Tags      []string
	ProjectID string
	Name      string
}

// New builds the Octavia client of a session: from the service catalog, or the given
// endpoint without Keystone.
func New(s *openstack.Session, noAuthEndpoint string) (Client, error) {
	if s.Provider == nil {
		if noAuthEndpoint == "" {
			return nil, errors.New("an Octavia endpoint is required without Keystone")
		}
		sc := s.NoAuthServiceClient("load-balancer", noAuthEndpoint)
		sc.ResourceBase = sc.Endpoint + "v2.0/"
		return &octavia{lb: sc}, nil
	}
	sc, err := gcopenstack.NewLoadBalancerV2(s.Provider, s.Endpoints)
	if err != nil {
		return nil, fmt.Errorf("finding octavia in the service catalog: %w", err)
	}
	return &octavia{lb: sc}, nil
}

type octavia struct{ lb *gophercloud.ServiceClient }

func (o *octavia) GetLoadBalancer(ctx context.Context, id string) (*LoadBalancer, error) {
	var resp struct {
		LoadBalancer LoadBalancer `json:"loadbalancer"`
	}
	err := openstack.Call(OpGetLoadBalancer, func() error {
		return loadbalancers.Get(ctx, o.lb, id).ExtractInto(&resp)
	})
	if err != nil {
		return nil, err
	}
	return &resp.LoadBalancer, nil
}

func (o *octavia) ListLoadBalancers(ctx context.Context, f Filter) ([]LoadBalancer, error) {
	var out []LoadBalancer
	err := openstack.Call(OpListLoadBalancers, func() error {
		// AllPages returns the error of any page fetch: a failed list is never an empty one.
		pages, err := loadbalancers.List(o.lb, loadbalancers.ListOpts{Tags: f.Tags, ProjectID: f.ProjectID, Name: f.Name}).AllPages(ctx)
		if err != nil {
			return err
		}
		var page struct {
			LoadBalancers []LoadBalancer `json:"loadbalancers"`
		}
		if err := pages.(loadbalancers.LoadBalancerPage).ExtractInto(&page); err != nil {
			return err
		}
		out = page.LoadBalancers
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (o *octavia) DeleteLoadBalancer(ctx context.Context, id string) error {
	err := openstack.Call(OpDeleteLoadBalancer, func() error {
		return loadbalancers.Delete(ctx, o.lb, id, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr()
	})
	if openstack.IsNotFound(err) {
		return nil
	}
	return err
}
