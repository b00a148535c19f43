package fake

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/kuryr-go/kuryr-go/pkg/openstack/octavia"
)

// Octavia is an in-memory Octavia.
type Octavia struct {
	Faults
	mu  sync.Mutex
	lbs map[string]octavia.LoadBalancer
}

var _ octavia.Client = (*Octavia)(nil)

// NewOctavia returns an Octavia that has lbs.
func NewOctavia(lbs ...octavia.LoadBalancer) *Octavia {
	o := &Octavia{lbs: map[string]octavia.LoadBalancer{}}
	for _, lb := range lbs {
		o.lbs[lb.ID] = lb
	}
	return o
}

// GetLoadBalancer implements octavia.Client.
func (o *Octavia) GetLoadBalancer(_ context.Context, id string) (*octavia.LoadBalancer, error) {
	if err := o.begin(octavia.OpGetLoadBalancer); err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	lb, ok := o.lbs[id]
	if !ok {
		return nil, notFound(octavia.OpGetLoadBalancer, "Load balancer", id)
	}
	lb.Tags = slices.Clone(lb.Tags)
	return &lb, nil
}

// ListLoadBalancers implements octavia.Client.
func (o *Octavia) ListLoadBalancers(_ context.Context, f octavia.Filter) ([]octavia.LoadBalancer, error) {
	if err := o.begin(octavia.OpListLoadBalancers); err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []octavia.LoadBalancer
	for _, lb := range o.lbs {
		if (f.ProjectID == "" || lb.ProjectID == f.ProjectID) && (f.Name == "" || lb.Name == f.Name) &&
			!slices.ContainsFunc(f.Tags, func(t string) bool { return !slices.Contains(lb.Tags, t) }) {
			lb.Tags = slices.Clone(lb.Tags)
			out = append(out, lb)
		}
	}
	slices.SortFunc(out, func(a, b octavia.LoadBalancer) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteLoadBalancer implements octavia.Client.
func (o *Octavia) DeleteLoadBalancer(_ context.Context, id string) error {
	if err := o.begin(octavia.OpDeleteLoadBalancer); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.lbs, id)
	return nil
}
