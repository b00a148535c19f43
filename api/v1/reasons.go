package v1

import "slices"

// Reasons of conditions and Events shared by every resource the controllers manage in
// OpenStack (see docs/architecture.md for what a user sees for each).
const (
	// ReasonOpenStackUnavailable: OpenStack did not answer or answered 5xx; retried with
	// back-off.
	ReasonOpenStackUnavailable = "OpenStackUnavailable"
	// ReasonAuthenticationFailed: OpenStack refused the credentials.
	ReasonAuthenticationFailed = "AuthenticationFailed"
	// ReasonPermissionDenied: the credentials lack a role the call needs.
	ReasonPermissionDenied = "PermissionDenied"
	// ReasonForeignResource: a recorded or found resource is not this object's; it was left
	// alone and not used.
	ReasonForeignResource = "ForeignResource"
	// ReasonBindingFailed: Neutron could not bind the port to the pod's node.
	ReasonBindingFailed = "PortBindingFailed"
	// ReasonLeftForSweep: the resource could not be released before the release timeout;
	// the object went and the orphan sweep deletes the resource once OpenStack answers.
	ReasonLeftForSweep = "LeftForSweep"
	// ReasonPortKept: the KuryrPort of a running pod was deleted; the pod keeps its port,
	// which is recorded again.
	ReasonPortKept = "PortKept"
	// ReasonPortReleased: the port was deleted or given back to its pool.
	ReasonPortReleased = "PortReleased"
	// ReasonSecurityGroupsUpdated: the port's security groups were set to the pod's.
	ReasonSecurityGroupsUpdated = "SecurityGroupsUpdated"
)

// PortIDs returns the IDs of the ports recorded in kp's VIFs, in interface-name order,
// without duplicates or empty IDs.
func (kp *KuryrPort) PortIDs() []string {
	names := make([]string, 0, len(kp.Status.VIFs))
	for name := range kp.Status.VIFs {
		names = append(names, name)
	}
	slices.Sort(names)
	var ids []string
	seen := map[string]bool{}
	for _, name := range names {
		if id := kp.Status.VIFs[name].VIF.ID; id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}
