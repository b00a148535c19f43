// Package neutron is the Neutron client: ports, networks, subnets and security groups.
// Callers use the Client interface; errors are classified *openstack.Error values.
package neutron

import (
	"context"
	"time"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
)

// Neutron port constants.
const (
	// DeviceOwnerKuryr marks pod ports (kuryr-lib's DEVICE_OWNER).
	DeviceOwnerKuryr = "compute:kuryr"
	PortStatusActive = "ACTIVE"
	PortStatusDown   = "DOWN"
	PortStatusBuild  = "BUILD"
	PortStatusError  = "ERROR"
	// VIFTypeBindingFailed is binding:vif_type when ML2 could not bind the port to its host.
	VIFTypeBindingFailed = "binding_failed"
	VIFTypeUnbound       = "unbound"
)

// Operations, as metrics labels and for fault injection in fakes.
const (
	OpCreatePort      openstack.Op = "create port"
	OpBulkCreatePorts openstack.Op = "bulk create ports"
	OpGetPort         openstack.Op = "get port"
	OpListPorts       openstack.Op = "list ports"
	OpUpdatePort      openstack.Op = "update port"
	OpDeletePort      openstack.Op = "delete port"
	OpSetPortTags     openstack.Op = "set port tags"
	OpGetNetwork      openstack.Op = "get network"
	OpGetSubnet       openstack.Op = "get subnet"
	OpGetSecurityGrp  openstack.Op = "get security group"
	OpGetExtension    openstack.Op = "get extension"
)

// Client is what the controllers need from Neutron. Methods take the caller's context,
// return nil and a classified *Error on failure, and never hide a failed page of a list.
type Client interface {
	// CreatePort creates one port with its tags.
	CreatePort(ctx context.Context, opts PortCreateOpts) (*Port, error)
	// CreatePorts creates several ports in one bulk request (all or nothing in Neutron).
	CreatePorts(ctx context.Context, opts []PortCreateOpts) ([]Port, error)
	GetPort(ctx context.Context, id string) (*Port, error)
	// ListPorts returns every port that matches the filter, or an error: never a partial list.
	ListPorts(ctx context.Context, filter PortFilter) ([]Port, error)
	UpdatePort(ctx context.Context, id string, opts PortUpdateOpts) (*Port, error)
	// DeletePort deletes a port; a port that is already gone counts as deleted.
	DeletePort(ctx context.Context, id string) error
	// ReplacePortTags sets the complete tag list of a port.
	ReplacePortTags(ctx context.Context, id string, tags []string) error
	GetNetwork(ctx context.Context, id string) (*Network, error)
	GetSubnet(ctx context.Context, id string) (*Subnet, error)
	GetSecurityGroup(ctx context.Context, id string) (*SecurityGroup, error)
}

// Port is a Neutron port with the port-binding attributes.
type Port struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	NetworkID      string         `json:"network_id"`
	ProjectID      string         `json:"project_id"`
	MACAddress     string         `json:"mac_address"`
	AdminStateUp   bool           `json:"admin_state_up"`
	Status         string         `json:"status"`
	FixedIPs       []FixedIP      `json:"fixed_ips"`
	DeviceID       string         `json:"device_id"`
	DeviceOwner    string         `json:"device_owner"`
	SecurityGroups []string       `json:"security_groups"`
	Tags           []string       `json:"tags"`
	HostID         string         `json:"binding:host_id"`
	VIFType        string         `json:"binding:vif_type"`
	VIFDetails     map[string]any `json:"binding:vif_details"`
	VNICType       string         `json:"binding:vnic_type"`
	RevisionNumber int            `json:"revision_number"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
}

// FixedIP is one address of a port.
type FixedIP struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address,omitempty"`
}

// HasTag reports whether the port carries tag.
func (p *Port) HasTag(tag string) bool {
	for _, t := range p.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// PortCreateOpts is the body of a port create.
type PortCreateOpts struct {
	Name        string
	NetworkID   string
	ProjectID   string
	SubnetIDs   []string // one fixed IP is allocated in each
	DeviceOwner string
	DeviceID    string
	HostID      string
	// SecurityGroups nil leaves Neutron's default; an empty slice means none.
	SecurityGroups []string
	Tags           []string
}

// PortUpdateOpts holds the fields to change; nil fields are left alone.
type PortUpdateOpts struct {
	Name           *string
	HostID         *string
	DeviceID       *string
	SecurityGroups *[]string
}

// PortFilter selects ports in ListPorts. Tags must all be present (Neutron "tags").
type PortFilter struct {
	Tags        []string
	DeviceID    string
	DeviceOwner string
	NetworkID   string
	ProjectID   string
	Name        string
	Status      string
	// IDs selects these ports only (Neutron "id" repeated).
	IDs []string
}

// Network is a Neutron network.
type Network struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	MTU            int    `json:"mtu"`
	NetworkType    string `json:"provider:network_type"`
	SegmentationID int    `json:"provider:segmentation_id"`
	ProjectID      string `json:"project_id"`
}

// Subnet is a Neutron subnet.
type Subnet struct {
	ID             string      `json:"id"`
	Name           string      `json:"name"`
	NetworkID      string      `json:"network_id"`
	CIDR           string      `json:"cidr"`
	GatewayIP      string      `json:"gateway_ip"`
	IPVersion      int         `json:"ip_version"`
	DNSNameservers []string    `json:"dns_nameservers"`
	HostRoutes     []HostRoute `json:"host_routes"`
	ProjectID      string      `json:"project_id"`
}

// HostRoute is a subnet host route.
type HostRoute struct {
	Destination string `json:"destination"`
	NextHop     string `json:"nexthop"`
}

// SecurityGroup is a Neutron security group (rules are not needed here).
type SecurityGroup struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	ProjectID string `json:"project_id"`
}
