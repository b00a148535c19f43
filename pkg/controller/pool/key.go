package pool

import (
	"slices"
	"strings"

	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

// Key identifies a pool: the ports of one node, project and network with one set of
// security groups are interchangeable.
type Key struct {
	Node      string
	ProjectID string
	NetworkID string
	// SGs is the sorted, comma-joined security group IDs (a comparable set).
	SGs string
}

// NewKey builds a key; the order of sgs does not matter.
func NewKey(node, projectID, networkID string, sgs []string) Key {
	s := slices.Clone(sgs)
	slices.Sort(s)
	s = slices.Compact(s)
	return Key{Node: node, ProjectID: projectID, NetworkID: networkID, SGs: strings.Join(s, ",")}
}

// KeyOf is the key of the pool a port belongs to.
func KeyOf(p *neutron.Port) Key {
	return NewKey(p.HostID, p.ProjectID, p.NetworkID, p.SecurityGroups)
}

// SecurityGroups returns the key's security groups (never nil: an empty set means none).
func (k Key) SecurityGroups() []string {
	if k.SGs == "" {
		return []string{}
	}
	return strings.Split(k.SGs, ",")
}

// Spec says which pool ports are the cluster's and how they are made: ownership tags, the
// project and the subnets of each network.
type Spec struct {
	ClusterID    string
	ResourceTags []string
	// ProjectID is the project of the pool ports. Only ports of this project (and of the
	// networks of Subnets) are taken into the pools: a port with the same cluster tag
	// elsewhere belongs to someone else.
	ProjectID string
	// Subnets maps a network ID to the subnets its ports get an address in. Pools of
	// other networks (or projects) hand out no free port: a pod on them gets a port
	// created for it, and a port given back to them is deleted.
	Subnets map[string][]string
}

// holds reports whether key's pool is one of the spec's: its project and one of its
// networks.
func (s Spec) holds(key Key) bool {
	_, ok := s.Subnets[key.NetworkID]
	return ok && key.ProjectID == s.ProjectID
}

// PoolPortOpts returns the create options of n free pool ports for key: bound to the
// node, owned by compute:kuryr, named kuryr-pool-port and tagged as free pool ports.
func (s Spec) PoolPortOpts(key Key, n int) []neutron.PortCreateOpts {
	out := make([]neutron.PortCreateOpts, 0, n)
	for range n {
		out = append(out, neutron.PortCreateOpts{
			Name:           ownership.PoolPortName,
			NetworkID:      key.NetworkID,
			ProjectID:      key.ProjectID,
			SubnetIDs:      slices.Clone(s.Subnets[key.NetworkID]),
			DeviceOwner:    neutron.DeviceOwnerKuryr,
			HostID:         key.Node,
			SecurityGroups: key.SecurityGroups(),
			Tags:           ownership.PoolPortTags(s.ClusterID, s.ResourceTags),
		})
	}
	return out
}

// PodPortOpts returns the create options of a port made for one pod when its pool is
// empty: the same fields a pod port has after it left a pool.
func (s Spec) PodPortOpts(key Key, podName, podUID string) neutron.PortCreateOpts {
	return neutron.PortCreateOpts{
		Name:           podName,
		NetworkID:      key.NetworkID,
		ProjectID:      key.ProjectID,
		SubnetIDs:      slices.Clone(s.Subnets[key.NetworkID]),
		DeviceOwner:    neutron.DeviceOwnerKuryr,
		DeviceID:       podUID,
		HostID:         key.Node,
		SecurityGroups: key.SecurityGroups(),
		Tags:           ownership.PortTags(s.ClusterID, podUID, s.ResourceTags),
	}
}

// IsFreePoolPort reports whether p looks like a free pool port of the cluster: tagged as
// such, owned by compute:kuryr and bound to a node. It may be ACTIVE: nodes plug their free
// ports ahead of the pods ([vif_pool] ports_pool_preplug).
func IsFreePoolPort(p *neutron.Port, clusterID string) bool {
	return p.HasTag(ownership.PoolTag) && p.HasTag(ownership.ClusterTag(clusterID)) &&
		p.DeviceOwner == neutron.DeviceOwnerKuryr && p.HostID != ""
}
