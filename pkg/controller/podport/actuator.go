package podport

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/kuryr-go/kuryr-go/pkg/controller/osresource"
	"github.com/kuryr-go/kuryr-go/pkg/controller/podnet"
	"github.com/kuryr-go/kuryr-go/pkg/controller/pool"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

// portActuator is one pod's port as the osresource lifecycle sees it.
type portActuator struct {
	r      *Reconciler
	pod    *corev1.Pod // for releases of a pod that is gone: namespace, name, UID and node only
	target *podnet.Target
	// trusted is the port this process created or verified for the pod.
	trusted string
}

var _ osresource.Actuator[neutron.Port] = (*portActuator)(nil)

func (a *portActuator) ID(p *neutron.Port) string { return p.ID }

func (a *portActuator) Get(ctx context.Context, id string) (*neutron.Port, error) {
	return a.r.Neutron.GetPort(ctx, id)
}

// Check accepts a port that is the pod's: a kuryr pod port on the pod's network and in its
// project, carrying the pod's UID (device_id or owner tag) and no other cluster's tag; or
// a free pool port of this cluster bound to the pod's node, which a pool hands out and
// renames after recording it. Anything else (a VM's port, another tenant's, another
// cluster's, a port someone planted with the pod's UID elsewhere) is refused.
func (a *portActuator) Check(p *neutron.Port) error {
	if a.trusted != "" && p.ID == a.trusted {
		return nil
	}
	uid := string(a.pod.UID)
	switch {
	case uid == "":
		return errors.New("the KuryrPort names no pod UID")
	case p.DeviceOwner != neutron.DeviceOwnerKuryr:
		return fmt.Errorf("device_owner is %q, not %s", p.DeviceOwner, neutron.DeviceOwnerKuryr)
	case !a.target.Holds(p):
		return fmt.Errorf("port is on network %s of project %s, not the pod's network %s of project %s",
			p.NetworkID, p.ProjectID, a.target.Network.ID, a.target.ProjectID)
	}
	cluster, tagged := ownership.ClusterFromTags(p.Tags)
	if tagged && cluster != a.r.ClusterID {
		return fmt.Errorf("port belongs to cluster %q", cluster)
	}
	tagUID, hasUID := ownership.PodUIDFromTags(p.Tags)
	switch {
	case p.DeviceID == uid && (!hasUID || tagUID == uid):
		return nil
	case p.DeviceID == "" && hasUID && tagUID == uid:
		return nil
	case p.DeviceID == "" && !hasUID && tagged && p.HasTag(ownership.PoolTag) &&
		(p.HostID == "" || p.HostID == a.pod.Spec.NodeName):
		return nil
	}
	return fmt.Errorf("port belongs to device %q, not pod %s", p.DeviceID, uid)
}

// Adoptable lists the ports created for the pod but never recorded: its UID as device_id,
// on its network, in its project.
func (a *portActuator) Adoptable(ctx context.Context) ([]neutron.Port, error) {
	return a.r.Neutron.ListPorts(ctx, neutron.PortFilter{
		DeviceID: string(a.pod.UID), DeviceOwner: neutron.DeviceOwnerKuryr,
		NetworkID: a.target.Network.ID, ProjectID: a.target.ProjectID,
	})
}

func (a *portActuator) Create(ctx context.Context) (*neutron.Port, error) {
	port, err := a.r.newPort(ctx, a.pod, a.target)
	if err != nil && openstack.IsRetryable(err) {
		a.r.update(string(a.pod.UID), func(rec *record) { rec.uncertain = true })
	}
	return port, err
}

// Delete deletes the port, or gives it back to its node's pool.
func (a *portActuator) Delete(ctx context.Context, id string) error {
	if a.r.Pool != nil {
		return a.r.Pool.Release(ctx, &neutron.Port{ID: id}, a.r.poolKey(a.pod.Spec.NodeName, a.target))
	}
	return a.r.Neutron.DeletePort(ctx, id)
}

func (r *Reconciler) actuator(pod *corev1.Pod, target *podnet.Target) *portActuator {
	return &portActuator{r: r, pod: pod, target: target, trusted: r.trustedPort(string(pod.UID))}
}

// poolKey is the pool of the pods of node with target.
func (r *Reconciler) poolKey(node string, t *podnet.Target) pool.Key {
	return pool.NewKey(node, t.ProjectID, t.Network.ID, t.SecurityGroups)
}

// createOpts are the create options of the pod's own port: those of a port a pool makes
// for a pod (one definition of a pod port).
func (r *Reconciler) createOpts(pod *corev1.Pod, t *podnet.Target) neutron.PortCreateOpts {
	spec := pool.Spec{ClusterID: r.ClusterID, ResourceTags: r.ResourceTags,
		Subnets: map[string][]string{t.Network.ID: t.SubnetIDs()}}
	return spec.PodPortOpts(r.poolKey(pod.Spec.NodeName, t), pod.Name, string(pod.UID))
}
