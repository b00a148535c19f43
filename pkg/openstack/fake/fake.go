// Package fake is an in-memory openstack.Client for tests: ports, networks, subnets,
// security groups, a port quota and error injection per operation.
package fake

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
)

// Client is an in-memory Neutron. The zero value is not usable; use New.
type Client struct {
	mu             sync.Mutex
	ports          map[string]*openstack.Port
	networks       map[string]*openstack.Network
	subnets        map[string]*openstack.Subnet
	securityGroups map[string]*openstack.SecurityGroup
	// projects nil means "no Keystone" (GetProject returns ErrNotSupported).
	projects map[string]*openstack.Project
	calls    map[string]int
	nextID   int

	// Fail, if set, is called before each operation ("create port", "get port", ...); a
	// non-nil result is returned instead of doing the operation.
	Fail func(op string) error
	// PortQuota limits the number of ports; 0 means unlimited.
	PortQuota int
	// NewPortStatus is the status of created ports (default DOWN).
	NewPortStatus string
	// Now is the clock used for created_at.
	Now func() time.Time
}

var _ openstack.Client = (*Client)(nil)

// New returns a fake with one network "net-1" (MTU 1450), its subnet "subnet-1"
// (10.0.0.64/26) and security group "sg-1".
func New() *Client {
	return &Client{
		ports:          map[string]*openstack.Port{},
		networks:       map[string]*openstack.Network{"net-1": {ID: "net-1", Name: "pod-net", MTU: 1450}},
		subnets:        map[string]*openstack.Subnet{"subnet-1": {ID: "subnet-1", NetworkID: "net-1", CIDR: "10.0.0.64/26", GatewayIP: "10.0.0.65", IPVersion: 4, DNSNameservers: []string{"10.0.0.2"}}},
		securityGroups: map[string]*openstack.SecurityGroup{"sg-1": {ID: "sg-1", Name: "pod-sg"}},
		calls:          map[string]int{},
		Now:            time.Now,
	}
}

// Calls returns how often op was called.
func (c *Client) Calls(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

// Ports returns copies of all ports.
func (c *Client) Ports() []openstack.Port {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]openstack.Port, 0, len(c.ports))
	for _, p := range c.ports {
		out = append(out, clonePort(p))
	}
	slices.SortFunc(out, func(a, b openstack.Port) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

// AddPort stores p as if it had been created outside (ID generated if empty).
func (c *Client) AddPort(p openstack.Port) openstack.Port {
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
func (c *Client) SetPortStatus(id, status, vifType string) {
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
func (c *Client) RemovePort(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ports, id)
}

// EnableKeystone makes GetProject answer from the given projects.
func (c *Client) EnableKeystone(projects ...openstack.Project) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.projects = map[string]*openstack.Project{}
	for i := range projects {
		c.projects[projects[i].ID] = &projects[i]
	}
}

func (c *Client) begin(op string) error {
	c.mu.Lock()
	c.calls[op]++
	fail := c.Fail
	c.mu.Unlock()
	if fail != nil {
		if err := fail(op); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) newID() string {
	c.nextID++
	return fmt.Sprintf("port-%04d-0000-0000-0000-000000000000", c.nextID)
}

func notFound(op, what, id string) error {
	return openstack.NewError(op, openstack.ClassNotFound, fmt.Sprintf("%s %s could not be found", what, id))
}

func (c *Client) create(opts openstack.PortCreateOpts) (*openstack.Port, error) {
	if c.PortQuota > 0 && len(c.ports) >= c.PortQuota {
		return nil, openstack.NewError("create port", openstack.ClassOverQuota, "Quota exceeded for resources: ['port'].")
	}
	p := &openstack.Port{
		ID: c.newID(), Name: opts.Name, NetworkID: opts.NetworkID, ProjectID: opts.ProjectID,
		MACAddress: fmt.Sprintf("fa:16:3e:00:%02x:%02x", c.nextID/256, c.nextID%256), AdminStateUp: true,
		Status: c.NewPortStatus, DeviceID: opts.DeviceID, DeviceOwner: opts.DeviceOwner,
		SecurityGroups: slices.Clone(opts.SecurityGroups), Tags: slices.Clone(opts.Tags), HostID: opts.HostID,
		VIFType: "ovs", VIFDetails: map[string]any{"port_filter": true, "ovs_hybrid_plug": false},
		CreatedAt: c.Now(),
	}
	if p.Status == "" {
		p.Status = openstack.PortStatusDown
	}
	for i, s := range opts.SubnetIDs {
		p.FixedIPs = append(p.FixedIPs, openstack.FixedIP{SubnetID: s, IPAddress: fmt.Sprintf("10.0.0.%d", 66+(c.nextID+i)%60)})
	}
	c.ports[p.ID] = p
	cp := clonePort(p)
	return &cp, nil
}

func (c *Client) CreatePort(_ context.Context, opts openstack.PortCreateOpts) (*openstack.Port, error) {
	if err := c.begin("create port"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.create(opts)
}

func (c *Client) CreatePorts(_ context.Context, opts []openstack.PortCreateOpts) ([]openstack.Port, error) {
	if err := c.begin("bulk create ports"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.PortQuota > 0 && len(c.ports)+len(opts) > c.PortQuota {
		return nil, openstack.NewError("bulk create ports", openstack.ClassOverQuota, "Quota exceeded for resources: ['port'].")
	}
	out := make([]openstack.Port, 0, len(opts))
	for _, o := range opts {
		p, err := c.create(o)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, nil
}

func (c *Client) GetPort(_ context.Context, id string) (*openstack.Port, error) {
	if err := c.begin("get port"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.ports[id]
	if !ok {
		return nil, notFound("get port", "Port", id)
	}
	cp := clonePort(p)
	return &cp, nil
}

func (c *Client) ListPorts(_ context.Context, f openstack.PortFilter) ([]openstack.Port, error) {
	if err := c.begin("list ports"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []openstack.Port
	for _, p := range c.ports {
		if matches(p, f) {
			out = append(out, clonePort(p))
		}
	}
	slices.SortFunc(out, func(a, b openstack.Port) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

func matches(p *openstack.Port, f openstack.PortFilter) bool {
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

func (c *Client) UpdatePort(_ context.Context, id string, o openstack.PortUpdateOpts) (*openstack.Port, error) {
	if err := c.begin("update port"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.ports[id]
	if !ok {
		return nil, notFound("update port", "Port", id)
	}
	if o.Name != nil {
		p.Name = *o.Name
	}
	if o.HostID != nil {
		p.HostID = *o.HostID
		if p.VIFType == openstack.VIFTypeBindingFailed {
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

func (c *Client) DeletePort(_ context.Context, id string) error {
	if err := c.begin("delete port"); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ports, id)
	return nil
}

func (c *Client) ReplacePortTags(_ context.Context, id string, tags []string) error {
	if err := c.begin("set port tags"); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.ports[id]
	if !ok {
		return notFound("set port tags", "Port", id)
	}
	p.Tags = slices.Clone(tags)
	return nil
}

func (c *Client) GetNetwork(_ context.Context, id string) (*openstack.Network, error) {
	if err := c.begin("get network"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.networks[id]; ok {
		cp := *n
		return &cp, nil
	}
	return nil, notFound("get network", "Network", id)
}

func (c *Client) GetSubnet(_ context.Context, id string) (*openstack.Subnet, error) {
	if err := c.begin("get subnet"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.subnets[id]; ok {
		cp := *s
		return &cp, nil
	}
	return nil, notFound("get subnet", "Subnet", id)
}

func (c *Client) GetSecurityGroup(_ context.Context, id string) (*openstack.SecurityGroup, error) {
	if err := c.begin("get security group"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if sg, ok := c.securityGroups[id]; ok {
		cp := *sg
		return &cp, nil
	}
	return nil, notFound("get security group", "Security group", id)
}

func (c *Client) GetProject(_ context.Context, id string) (*openstack.Project, error) {
	if err := c.begin("get project"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.projects == nil {
		return nil, openstack.ErrNotSupported
	}
	if p, ok := c.projects[id]; ok {
		cp := *p
		return &cp, nil
	}
	return nil, notFound("get project", "Project", id)
}

func clonePort(p *openstack.Port) openstack.Port {
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
