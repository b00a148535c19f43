package openstack

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"

	"github.com/kuryr-go/kuryr-go/pkg/metrics"
)

// Neutron extension that lets a port create carry its tags.
const extTagOnCreate = "tag-ports-during-bulk-creation"

// neutron implements Client over gophercloud.
type neutron struct {
	network *gophercloud.ServiceClient
	// identity is nil without Keystone (noauth).
	identity *gophercloud.ServiceClient
	// tagOnCreate caches whether Neutron accepts tags in a port create: 0 unknown, 1 yes, 2 no.
	tagOnCreate atomic.Int32
}

var _ Client = (*neutron)(nil)

// NewFromServiceClients builds a Client from gophercloud service clients; identity may be nil.
func NewFromServiceClients(network, identity *gophercloud.ServiceClient) Client {
	return &neutron{network: network, identity: identity}
}

func observe(op string, start time.Time, err error) {
	result := "success"
	if err != nil {
		result = string(ClassOf(err))
	}
	metrics.ObserveOpenStackCall(op, result, time.Since(start))
}

// call runs f as operation op: it classifies the error and records the metrics.
func call(op string, f func() error) error {
	start := time.Now()
	err := wrap(op, f())
	observe(op, start, err)
	return err
}

type portCreateBody struct {
	Name           string    `json:"name,omitempty"`
	NetworkID      string    `json:"network_id"`
	ProjectID      string    `json:"project_id,omitempty"`
	AdminStateUp   bool      `json:"admin_state_up"`
	FixedIPs       []FixedIP `json:"fixed_ips,omitempty"`
	DeviceOwner    string    `json:"device_owner,omitempty"`
	DeviceID       string    `json:"device_id,omitempty"`
	HostID         string    `json:"binding:host_id,omitempty"`
	SecurityGroups *[]string `json:"security_groups,omitempty"`
	Tags           []string  `json:"tags,omitempty"`
}

func createBody(o PortCreateOpts, withTags bool) portCreateBody {
	b := portCreateBody{
		Name: o.Name, NetworkID: o.NetworkID, ProjectID: o.ProjectID, AdminStateUp: true,
		DeviceOwner: o.DeviceOwner, DeviceID: o.DeviceID, HostID: o.HostID,
	}
	for _, s := range o.SubnetIDs {
		b.FixedIPs = append(b.FixedIPs, FixedIP{SubnetID: s})
	}
	if o.SecurityGroups != nil {
		sgs := append([]string{}, o.SecurityGroups...)
		b.SecurityGroups = &sgs
	}
	if withTags {
		b.Tags = o.Tags
	}
	return b
}

// tagsOnCreate reports whether Neutron takes tags in the create body. If it does not, tags
// are set with a second request; a crash in between leaves an untagged port, which the
// controller still finds by device_id.
func (n *neutron) tagsOnCreate(ctx context.Context) bool {
	switch n.tagOnCreate.Load() {
	case 1:
		return true
	case 2:
		return false
	}
	err := call("get extension", func() error {
		_, err := n.network.Get(ctx, n.network.ServiceURL("extensions", extTagOnCreate), &struct{}{}, nil)
		return err
	})
	switch {
	case err == nil:
		n.tagOnCreate.Store(1)
		return true
	case IsNotFound(err):
		n.tagOnCreate.Store(2)
	}
	return false
}

func (n *neutron) CreatePort(ctx context.Context, opts PortCreateOpts) (*Port, error) {
	withTags := n.tagsOnCreate(ctx)
	var resp struct {
		Port Port `json:"port"`
	}
	err := call("create port", func() error {
		_, err := n.network.Post(ctx, n.network.ServiceURL("ports"),
			map[string]any{"port": createBody(opts, withTags)}, &resp,
			&gophercloud.RequestOpts{OkCodes: []int{http.StatusCreated}})
		return err
	})
	if err != nil {
		return nil, err
	}
	if !withTags && len(opts.Tags) > 0 {
		if err := n.ReplacePortTags(ctx, resp.Port.ID, opts.Tags); err != nil {
			return nil, err
		}
		resp.Port.Tags = opts.Tags
	}
	return &resp.Port, nil
}

func (n *neutron) CreatePorts(ctx context.Context, opts []PortCreateOpts) ([]Port, error) {
	if len(opts) == 0 {
		return nil, nil
	}
	withTags := n.tagsOnCreate(ctx)
	bodies := make([]portCreateBody, 0, len(opts))
	for _, o := range opts {
		bodies = append(bodies, createBody(o, withTags))
	}
	var resp struct {
		Ports []Port `json:"ports"`
	}
	err := call("bulk create ports", func() error {
		_, err := n.network.Post(ctx, n.network.ServiceURL("ports"),
			map[string]any{"ports": bodies}, &resp,
			&gophercloud.RequestOpts{OkCodes: []int{http.StatusCreated}})
		return err
	})
	if err != nil {
		return nil, err
	}
	if !withTags {
		for i := range resp.Ports {
			if i >= len(opts) || len(opts[i].Tags) == 0 {
				continue
			}
			if err := n.ReplacePortTags(ctx, resp.Ports[i].ID, opts[i].Tags); err != nil {
				return nil, err
			}
			resp.Ports[i].Tags = opts[i].Tags
		}
	}
	return resp.Ports, nil
}

func (n *neutron) GetPort(ctx context.Context, id string) (*Port, error) {
	var resp struct {
		Port Port `json:"port"`
	}
	err := call("get port", func() error {
		_, err := n.network.Get(ctx, n.network.ServiceURL("ports", id), &resp, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &resp.Port, nil
}

func (n *neutron) ListPorts(ctx context.Context, f PortFilter) ([]Port, error) {
	opts := ports.ListOpts{
		Tags: strings.Join(f.Tags, ","), DeviceID: f.DeviceID, DeviceOwner: f.DeviceOwner,
		NetworkID: f.NetworkID, ProjectID: f.ProjectID, Name: f.Name, Status: f.Status,
	}
	var out []Port
	err := call("list ports", func() error {
		// AllPages returns the error of any page fetch: a failed list is never an empty one.
		pages, err := ports.List(n.network, portListOpts{ListOpts: opts, ids: f.IDs}).AllPages(ctx)
		if err != nil {
			return err
		}
		return ports.ExtractPortsInto(pages, &out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// portListOpts adds a repeated id filter, which gophercloud's ListOpts cannot express.
type portListOpts struct {
	ports.ListOpts
	ids []string
}

func (o portListOpts) ToPortListQuery() (string, error) {
	q, err := o.ListOpts.ToPortListQuery()
	if err != nil || len(o.ids) == 0 {
		return q, err
	}
	u, err := url.Parse(q)
	if err != nil {
		return "", err
	}
	v := u.Query()
	for _, id := range o.ids {
		v.Add("id", id)
	}
	return "?" + v.Encode(), nil
}

func (n *neutron) UpdatePort(ctx context.Context, id string, o PortUpdateOpts) (*Port, error) {
	body := map[string]any{}
	if o.Name != nil {
		body["name"] = *o.Name
	}
	if o.HostID != nil {
		body["binding:host_id"] = *o.HostID
	}
	if o.DeviceID != nil {
		body["device_id"] = *o.DeviceID
	}
	if o.SecurityGroups != nil {
		body["security_groups"] = *o.SecurityGroups
	}
	var resp struct {
		Port Port `json:"port"`
	}
	err := call("update port", func() error {
		_, err := n.network.Put(ctx, n.network.ServiceURL("ports", id), map[string]any{"port": body}, &resp,
			&gophercloud.RequestOpts{OkCodes: []int{http.StatusOK}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &resp.Port, nil
}

func (n *neutron) DeletePort(ctx context.Context, id string) error {
	err := call("delete port", func() error {
		_, err := n.network.Delete(ctx, n.network.ServiceURL("ports", id), nil)
		return err
	})
	if IsNotFound(err) {
		return nil
	}
	return err
}

func (n *neutron) ReplacePortTags(ctx context.Context, id string, tags []string) error {
	return call("set port tags", func() error {
		_, err := n.network.Put(ctx, n.network.ServiceURL("ports", id, "tags"),
			map[string]any{"tags": tags}, nil, &gophercloud.RequestOpts{OkCodes: []int{http.StatusOK}})
		return err
	})
}

func (n *neutron) GetNetwork(ctx context.Context, id string) (*Network, error) {
	var resp struct {
		Network Network `json:"network"`
	}
	err := call("get network", func() error {
		_, err := n.network.Get(ctx, n.network.ServiceURL("networks", id), &resp, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &resp.Network, nil
}

func (n *neutron) GetSubnet(ctx context.Context, id string) (*Subnet, error) {
	var resp struct {
		Subnet Subnet `json:"subnet"`
	}
	err := call("get subnet", func() error {
		_, err := n.network.Get(ctx, n.network.ServiceURL("subnets", id), &resp, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &resp.Subnet, nil
}

func (n *neutron) GetSecurityGroup(ctx context.Context, id string) (*SecurityGroup, error) {
	var resp struct {
		SecurityGroup SecurityGroup `json:"security_group"`
	}
	err := call("get security group", func() error {
		_, err := n.network.Get(ctx, n.network.ServiceURL("security-groups", id), &resp, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &resp.SecurityGroup, nil
}

func (n *neutron) GetProject(ctx context.Context, id string) (*Project, error) {
	if n.identity == nil {
		return nil, ErrNotSupported
	}
	var p *projects.Project
	err := call("get project", func() error {
		var err error
		p, err = projects.Get(ctx, n.identity, id).Extract()
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Project{ID: p.ID, Name: p.Name, Enabled: p.Enabled}, nil
}
