// Package ownership names the Neutron tags that mark the ports a cluster owns. Neutron tags
// are at most 255 characters and cannot contain commas (the list filter separates with them).
package ownership

import "strings"

const (
	clusterTagPrefix = "kuryr.openstack.org/cluster="
	podUIDTagPrefix  = "kuryr.openstack.org/pod-uid="
	// PoolTag marks a free pool port: created ahead for a node, or given back by a pod.
	// It is removed when a pod gets the port and put back when the port returns.
	PoolTag = "kuryr.openstack.org/pool=available"
	// PoolPortName is the name of free pool ports (kuryr-kubernetes' name).
	PoolPortName = "kuryr-pool-port"
)

// ClusterTag marks every port of the cluster; the orphan sweep only ever looks at these.
func ClusterTag(clusterID string) string { return clusterTagPrefix + clusterID }

// PodUIDTag marks the port of one pod.
func PodUIDTag(uid string) string { return podUIDTagPrefix + uid }

// PodUIDFromTags returns the pod UID recorded in a port's tags.
func PodUIDFromTags(tags []string) (string, bool) {
	for _, t := range tags {
		if uid, ok := strings.CutPrefix(t, podUIDTagPrefix); ok && uid != "" {
			return uid, true
		}
	}
	return "", false
}

// PortTags is the tag list of a pod port: cluster, pod UID, then [neutron_defaults]
// resource_tags, without duplicates.
func PortTags(clusterID, podUID string, resourceTags []string) []string {
	tags := []string{ClusterTag(clusterID), PodUIDTag(podUID)}
	seen := map[string]bool{tags[0]: true, tags[1]: true}
	for _, t := range resourceTags {
		if !seen[t] && t != "" {
			seen[t] = true
			tags = append(tags, t)
		}
	}
	return tags
}

// PoolPortTags is the tag list of a free pool port: cluster, pool, then [neutron_defaults]
// resource_tags, without duplicates.
func PoolPortTags(clusterID string, resourceTags []string) []string {
	tags := []string{ClusterTag(clusterID), PoolTag}
	seen := map[string]bool{tags[0]: true, tags[1]: true}
	for _, t := range resourceTags {
		if !seen[t] && t != "" {
			seen[t] = true
			tags = append(tags, t)
		}
	}
	return tags
}
