package fake

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// Neutron is an in-memory Neutron. The zero value is not usable; use New.
type Neutron struct {
	Faults
	mu             sync.Mutex
	ports          map[string]*neutron.Port
	networks       map[string]*neutron.Network
	subnets        map[string]*neutron.Subnet
	securityGroups map[string]*neutron.SecurityGroup
	nextID         int

	// PortQuota limits the number of ports; 0 means unlimited.
	PortQuota int
	// NewPortStatus is the status of created ports (default DOWN).
	NewPortStatus string
	// Now is the clock used for created_at.
	Now func() time.Time
}

var _ neutron.Client = (*Neutron)(nil)

// New returns a fake with one network "net-1" (MTU 1450), its subnet "subnet-1"
// (10.0.0.64/26) and security group "sg-1".
func New() *Neutron {
	return &Neutron{
		ports:          map[string]*neutron.Port{},
		networks:       map[string]*neutron.Network{"net-1": {ID: "net-1", Name: "pod-net", MTU: 1450}},
		subnets:        map[string]*neutron.Subnet{"subnet-1": {ID: "subnet-1", NetworkID: "net-1", CIDR: "10.0.0.64/26", GatewayIP: "10.0.0.65", IPVersion: 4, DNSNameservers: []string{"10.0.0.2"}}},
		securityGroups: map[string]*neutron.SecurityGroup{"sg-1": {ID: "sg-1", Name: "pod-sg"}},
		Now:            time.Now,
	}
}

// Ports returns copies of all ports.
func (c *Neutron) Ports() []neutron.Port {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]neutron.Port, 0, len(c.ports))
	for _, p := range c.ports {
		out = append(out, clonePort(p))
	}
	slices.SortFunc(out, func(a, b neutron.Port) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

// AddPort stores p as if it had been created outside (ID generated if empty).
func (c *Neutron) AddPort(p neutron.Port) neutron.Port {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.ID == "" {
		p.ID = c.newID()
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = c.Now()
	}
	cp := clonePort(&p)
	c.ports[p.ID] = &cp
	return clonePort(&cp)
}

// SetPortStatus changes a port's status (e.g. to ACTIVE) and binding:vif_type.
func (c *Neutron) SetPortStatus(id, status, vifType string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.ports[id]; ok {
		p.Status = status
		if vifType != "" {
			p.VIFType = vifType
		}
	}
}

// RemovePort deletes a port behind the controller's back.
func (c *Neutron) RemovePort(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ports, id)
}

func (c *Neutron) newID() string {
	c.nextID++
	return fmt.Sprintf("port-%04d-0000-0000-0000-000000000000", c.nextID)
}

func notFound(op openstack.Op, what, id string) error {
	return openstack.NewError(op, openstack.ClassNotFound, fmt.Sprintf("%s %s could not be found", what, id))
}

func (c *Neutron) create(opts neutron.PortCreateOpts) (*neutron.Port, error) {
	if c.PortQuota > 0 && len(c.ports) >= c.PortQuota {
		return nil, openstack.NewError(neutron.OpCreatePort, openstack.ClassOverQuota, "Quota exceeded for resources: ['port'].")
	}
	p := &neutron.Port{
		ID: c.newID(), Name: opts.Name, NetworkID: opts.NetworkID, ProjectID: opts.ProjectID,
		MACAddress: fmt.Sprintf("fa:16:3e:00:%02x:%02x", c.nextID/256, c.nextID%256), AdminStateUp: true,
		Status: c.NewPortStatus, DeviceID: opts.DeviceID, DeviceOwner: opts.DeviceOwner,
		SecurityGroups: slices.Clone(opts.SecurityGroups), Tags: slices.Clone(opts.Tags), HostID: opts.HostID,
		VIFType: "ovs", VIFDetails: map[string]any{"port_filter": true, "ovs_hybrid_plug": false},
		CreatedAt: c.Now(),
	}
	if p.Status == "" {
		p.Status = neutron.PortStatusDown
	}
	for i, s := range opts.SubnetIDs {
		p.FixedIPs = append(p.FixedIPs, neutron.FixedIP{SubnetID: s, IPAddress: fmt.Sprintf("10.0.0.%d", 66+(c.nextID+i)%60)})
	}
	c.ports[p.ID] = p
	cp := clonePort(p)
	return &cp, nil
}

// CreatePort implements neutron.Client.
func (c *Neutron) CreatePort(_ context.Context, opts neutron.PortCreateOpts) (*neutron.Port, error) {
	if err := c.begin(neutron.OpCreatePort); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.create(opts)
}

// CreatePorts implements neutron.Client.
func (c *Neutron) CreatePorts(_ context.Context, opts []neutron.PortCreateOpts) ([]neutron.Port, error) {
	if err := c.begin(neutron.OpBulkCreatePorts); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.PortQuota > 0 && len(c.ports)+len(opts) > c.PortQuota {
		return nil, openstack.NewError(neutron.OpBulkCreatePorts, openstack.ClassOverQuota, "Quota exceeded for resources: ['port'].")
	}
	out := make([]neutron.Port, 0, len(opts))
	for _, o := range opts {
		p, err := c.create(o)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, nil
}

// GetPort implements neutron.Client.
func (c *Neutron) GetPort(_ context.Context, id string) (*neutron.Port, error) {
	if err := c.begin(neutron.OpGetPort); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.ports[id]
	if !ok {
		return nil, notFound(neutron.OpGetPort, "Port", id)
	}
	cp := clonePort(p)
	return &cp, nil
}

// ListPorts implements neutron.Client.
func (c *Neutron) ListPorts(_ context.Context, f neutron.PortFilter) ([]neutron.Port, error) {
	if err := c.begin(neutron.OpListPorts); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []neutron.Port
	for _, p := range c.ports {
		if matches(p, f) {
			out = append(out, clonePort(p))
		}
	}
	slices.SortFunc(out, func(a, b neutron.Port) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

func matches(p *neutron.Port, f neutron.PortFilter) bool {
	for _, t := range f.Tags {
		if !slices.Contains(p.Tags, t) {
			return false
		}
	}
	if len(f.IDs) > 0 && !slices.Contains(f.IDs, p.ID) {
		return false
	}
	return (f.DeviceID == "" || p.DeviceID == f.DeviceID) &&
		(f.DeviceOwner == "" || p.DeviceOwner == f.DeviceOwner) &&
		(f.NetworkID == "" || p.NetworkID == f.NetworkID) &&
		(f.ProjectID == "" || p.ProjectID == f.ProjectID) &&
		(f.Name == "" || p.Name == f.Name) &&
		(f.Status == "" || p.Status == f.Status)
}

// UpdatePort implements neutron.Client.
func (c *Neutron) UpdatePort(_ context.Context, id string, o neutron.PortUpdateOpts) (*neutron.Port, error) {
	if err := c.begin(neutron.OpUpdatePort); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.ports[id]
	if !ok {
		return nil, notFound(neutron.OpUpdatePort, "Port", id)
	}
	if o.Name != nil {
		p.Name = *o.Name
	}
	if o.HostID != nil {
		p.HostID = *o.HostID
		if p.VIFType == neutron.VIFTypeBindingFailed {
			p.VIFType = "ovs"
		}
	}
	if o.DeviceID != nil {
		p.DeviceID = *o.DeviceID
	}
	if o.SecurityGroups != nil {
		p.SecurityGroups = slices.Clone(*o.SecurityGroups)
	}
	p.RevisionNumber++
	cp := clonePort(p)
	return &cp, nil
}

// DeletePort implements neutron.Client.
func (c *Neutron) DeletePort(_ context.Context, id string) error {
	if err := c.begin(neutron.OpDeletePort); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ports, id)
	return nil
}

// ReplacePortTags implements neutron.Client.
func (c *Neutron) ReplacePortTags(_ context.Context, id string, tags []string) error {
	if err := c.begin(neutron.OpSetPortTags); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.ports[id]
	if !ok {
		return notFound(neutron.OpSetPortTags, "Port", id)
	}
	p.Tags = slices.Clone(tags)
	return nil
}

// GetNetwork implements neutron.Client.
func (c *Neutron) GetNetwork(_ context.Context, id string) (*neutron.Network, error) {
	return getCopy(c, neutron.OpGetNetwork, c.networks, "Network", id)
}

// GetSubnet implements neutron.Client.
func (c *Neutron) GetSubnet(_ context.Context, id string) (*neutron.Subnet, error) {
	return getCopy(c, neutron.OpGetSubnet, c.subnets, "Subnet", id)
}

// GetSecurityGroup implements neutron.Client.
func (c *Neutron) GetSecurityGroup(_ context.Context, id string) (*neutron.SecurityGroup, error) {
	return getCopy(c, neutron.OpGetSecurityGrp, c.securityGroups, "Security group", id)
}

// getCopy returns a copy of m[id] as the operation op.
func getCopy[T any](c *Neutron, op openstack.Op, m map[string]*T, what, id string) (*T, error) {
	if err := c.begin(op); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := m[id]; ok {
		cp := *v
		return &cp, nil
	}
	return nil, notFound(op, what, id)
}

func clonePort(p *neutron.Port) neutron.Port {
	cp := *p
	cp.FixedIPs = slices.Clone(p.FixedIPs)
	cp.SecurityGroups = slices.Clone(p.SecurityGroups)
	cp.Tags = slices.Clone(p.Tags)
	if p.VIFDetails != nil {
		cp.VIFDetails = make(map[string]any, len(p.VIFDetails))
		for k, v := range p.VIFDetails {
			cp.VIFDetails[k] = v
		}
	}
	return cp
}
