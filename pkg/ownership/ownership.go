// Package ownership names the tags that mark what a cluster owns in OpenStack: the
// cluster tag on everything kuryr-go creates, an owner tag per kind of Kubernetes owner
// (the pod-uid tag of pod ports is kuryr-kubernetes' own), and the pool tag of free pool
// ports. Neutron tags are at most 255 characters and cannot contain commas (the list
// filter separates with them).
package ownership

import (
	"slices"
	"strings"
)

const (
	prefix           = "kuryr.openstack.org/"
	clusterTagPrefix = prefix + "cluster="
	// PoolTag marks a free pool port: created ahead for a node, or given back by a pod.
	// It is removed when a pod gets the port and put back when the port returns.
	PoolTag = prefix + "pool=available"
	// PoolPortName is the name of free pool ports (kuryr-kubernetes' name).
	PoolPortName = "kuryr-pool-port"
)

// Kind is the kind of Kubernetes object that owns an OpenStack resource.
type Kind string

// Owner kinds.
const (
	KindPod           Kind = "pod"
	KindLoadBalancer  Kind = "loadbalancer"
	KindNetworkPolicy Kind = "networkpolicy"
	KindNetwork       Kind = "network"
)

// ClusterTag marks every resource of the cluster; the orphan sweep only ever looks at these.
func ClusterTag(clusterID string) string { return clusterTagPrefix + clusterID }

// ClusterFromTags returns the cluster ID in tags, if any.
func ClusterFromTags(tags []string) (string, bool) { return valueOf(tags, clusterTagPrefix) }

// OwnerTag marks the resource of one owner: kuryr.openstack.org/<kind>-uid=<uid>.
func OwnerTag(kind Kind, uid string) string { return ownerPrefix(kind) + uid }

// OwnerFromTags returns the UID of the owner of kind recorded in tags.
func OwnerFromTags(kind Kind, tags []string) (string, bool) { return valueOf(tags, ownerPrefix(kind)) }

// PodUIDTag marks the port of one pod.
func PodUIDTag(uid string) string { return OwnerTag(KindPod, uid) }

// PodUIDFromTags returns the pod UID recorded in a port's tags.
func PodUIDFromTags(tags []string) (string, bool) { return OwnerFromTags(KindPod, tags) }

func ownerPrefix(kind Kind) string { return prefix + string(kind) + "-uid=" }

func valueOf(tags []string, p string) (string, bool) {
	for _, t := range tags {
		if v, ok := strings.CutPrefix(t, p); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

// Tags is a tag list in order without duplicates or empty tags: the cluster tag, then
// the given tags, then [neutron_defaults] resource_tags.
func Tags(clusterID string, resourceTags []string, tags ...string) []string {
	out := make([]string, 0, 1+len(tags)+len(resourceTags))
	for _, t := range append(append([]string{ClusterTag(clusterID)}, tags...), resourceTags...) {
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// PortTags is the tag list of a pod port.
func PortTags(clusterID, podUID string, resourceTags []string) []string {
	return Tags(clusterID, resourceTags, PodUIDTag(podUID))
}

// PoolPortTags is the tag list of a free pool port.
func PoolPortTags(clusterID string, resourceTags []string) []string {
	return Tags(clusterID, resourceTags, PoolTag)
}

// Missing returns the tags of want that have does not carry, in want's order.
func Missing(have, want []string) []string {
	var out []string
	for _, t := range want {
		if !slices.Contains(have, t) {
			out = append(out, t)
		}
	}
	return out
}
