package neutron

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/gophercloud/gophercloud/v2"
	gcopenstack "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
)

// Neutron extension that lets a port create carry its tags.
const extTagOnCreate = "tag-ports-during-bulk-creation"

// neutron implements Client over gophercloud.
type neutron struct {
	network *gophercloud.ServiceClient
	// tagOnCreate caches whether Neutron accepts tags in a port create: 0 unknown, 1 yes, 2 no.
	tagOnCreate atomic.Int32
}

var _ Client = (*neutron)(nil)

// New builds the Neutron client of a session: from the service catalog (the session's
// Neutron endpoint, when set, overrides it), or the session's endpoint with noauth.
func New(s *openstack.Session) (Client, error) {
	var sc *gophercloud.ServiceClient
	if s.Provider == nil {
		if s.NeutronEndpoint == "" {
			return nil, errors.New("a Neutron endpoint is required without Keystone")
		}
		sc = s.NoAuthServiceClient("network", s.NeutronEndpoint)
	} else {
		var err error
		if sc, err = gcopenstack.NewNetworkV2(s.Provider, s.Endpoints); err != nil {
			return nil, fmt.Errorf("finding neutron in the service catalog: %w", err)
		}
		if s.NeutronEndpoint != "" {
			sc.Endpoint = gophercloud.NormalizeURL(s.NeutronEndpoint)
		}
	}
	sc.ResourceBase = sc.Endpoint + "v2.0/"
	return &neutron{network: sc}, nil
}

var call = openstack.Call

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

// tagsOnCreate reports whether Neutron takes tags in the create body. A failed probe is
// an error (and not cached): creating untagged ports because Neutron was briefly
// unavailable would leave ports nothing finds by tag.
func (n *neutron) tagsOnCreate(ctx context.Context) (bool, error) {
	switch n.tagOnCreate.Load() {
	case 1:
		return true, nil
	case 2:
		return false, nil
	}
	err := call(OpGetExtension, func() error {
		_, err := n.network.Get(ctx, n.network.ServiceURL("extensions", extTagOnCreate), &struct{}{}, nil)
		return err
	})
	switch {
	case err == nil:
		n.tagOnCreate.Store(1)
		return true, nil
	case openstack.IsNotFound(err):
		n.tagOnCreate.Store(2)
		return false, nil
	}
	return false, err
}

func (n *neutron) CreatePort(ctx context.Context, opts PortCreateOpts) (*Port, error) {
	created, err := n.create(ctx, OpCreatePort, []PortCreateOpts{opts})
	if err != nil {
		return nil, err
	}
	return &created[0], nil
}

func (n *neutron) CreatePorts(ctx context.Context, opts []PortCreateOpts) ([]Port, error) {
	if len(opts) == 0 {
		return nil, nil
	}
	return n.create(ctx, OpBulkCreatePorts, opts)
}

// create creates the ports of opts in one request, all or nothing: on a Neutron without
// tags in the create body the ports are tagged one by one afterwards, and when tagging
// fails every port of the request is deleted again, so no untagged port is left behind.
func (n *neutron) create(ctx context.Context, op openstack.Op, opts []PortCreateOpts) ([]Port, error) {
	withTags, err := n.tagsOnCreate(ctx)
	if err != nil {
		return nil, fmt.Errorf("checking whether ports can be tagged on create: %w", err)
	}
	bodies := make([]portCreateBody, 0, len(opts))
	for _, o := range opts {
		bodies = append(bodies, createBody(o, withTags))
	}
	var single struct {
		Port Port `json:"port"`
	}
	var bulk struct {
		Ports []Port `json:"ports"`
	}
	err = call(op, func() error {
		var err error
		if op == OpCreatePort {
			_, err = n.network.Post(ctx, n.network.ServiceURL("ports"), map[string]any{"port": bodies[0]}, &single,
				&gophercloud.RequestOpts{OkCodes: []int{http.StatusCreated}})
		} else {
			_, err = n.network.Post(ctx, n.network.ServiceURL("ports"), map[string]any{"ports": bodies}, &bulk,
				&gophercloud.RequestOpts{OkCodes: []int{http.StatusCreated}})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	created := bulk.Ports
	if op == OpCreatePort {
		created = []Port{single.Port}
	}
	if withTags {
		return created, nil
	}
	for i := range created {
		if i >= len(opts) || len(opts[i].Tags) == 0 {
			continue
		}
		if err := n.ReplacePortTags(ctx, created[i].ID, opts[i].Tags); err != nil {
			return nil, n.undoCreate(ctx, created, err)
		}
		created[i].Tags = opts[i].Tags
	}
	return created, nil
}

// undoCreate deletes ports whose tagging failed. The ports a delete could not remove are
// named in the error, so the caller's log says what is left.
func (n *neutron) undoCreate(ctx context.Context, created []Port, cause error) error {
	var left []string
	for i := range created {
		if err := n.DeletePort(context.WithoutCancel(ctx), created[i].ID); err != nil {
			left = append(left, created[i].ID)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("tagging new ports: %w (and untagged ports %s could not be deleted)", cause, strings.Join(left, ","))
	}
	return fmt.Errorf("tagging new ports (they were deleted again): %w", cause)
}

func (n *neutron) GetPort(ctx context.Context, id string) (*Port, error) {
	var resp struct {
		Port Port `json:"port"`
	}
	err := call(OpGetPort, func() error {
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
	err := call(OpListPorts, func() error {
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
	err := call(OpUpdatePort, func() error {
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
	err := call(OpDeletePort, func() error {
		_, err := n.network.Delete(ctx, n.network.ServiceURL("ports", id), nil)
		return err
	})
	if openstack.IsNotFound(err) {
		return nil
	}
	return err
}

func (n *neutron) ReplacePortTags(ctx context.Context, id string, tags []string) error {
	return call(OpSetPortTags, func() error {
		_, err := n.network.Put(ctx, n.network.ServiceURL("ports", id, "tags"),
			map[string]any{"tags": tags}, nil, &gophercloud.RequestOpts{OkCodes: []int{http.StatusOK}})
		return err
	})
}

func (n *neutron) GetNetwork(ctx context.Context, id string) (*Network, error) {
	return getOne[Network](ctx, n, OpGetNetwork, "network", "networks", id)
}

func (n *neutron) GetSubnet(ctx context.Context, id string) (*Subnet, error) {
	return getOne[Subnet](ctx, n, OpGetSubnet, "subnet", "subnets", id)
}

func (n *neutron) GetSecurityGroup(ctx context.Context, id string) (*SecurityGroup, error) {
	return getOne[SecurityGroup](ctx, n, OpGetSecurityGrp, "security_group", "security-groups", id)
}

// getOne reads one resource of collection, which Neutron wraps in an object under key.
func getOne[T any](ctx context.Context, n *neutron, op openstack.Op, key, collection, id string) (*T, error) {
	var resp map[string]*T
	err := call(op, func() error {
		_, err := n.network.Get(ctx, n.network.ServiceURL(collection, id), &resp, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp[key] == nil {
		return nil, openstack.Wrap(op, fmt.Errorf("no %q in Neutron's answer", key))
	}
	return resp[key], nil
}
