package podport

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/controller/ownership"
	"github.com/kuryr-go/kuryr-go/pkg/controller/pool"
	"github.com/kuryr-go/kuryr-go/pkg/metrics"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
)

// DefaultIfName is the interface name of the pod's default VIF.
const DefaultIfName = "eth0"

// ReasonPortFromPool is the Event reason of a pod served from its node's port pool.
const ReasonPortFromPool = "PortFromPool"

// maxRebinds is how often a binding_failed port is re-bound before it is replaced.
const maxRebinds = 3

// ensurePort finds or creates the pod's port and records it. The lookup order prevents
// duplicates: the ID stored in status, then ports already carrying the pod's UID as
// device_id (a create whose status write was lost), and only then a create. fresh means the
// KuryrPort was created by this very reconcile, so no port can exist yet.
func (r *Reconciler) ensurePort(ctx context.Context, pod *corev1.Pod, kp *apiv1.KuryrPort, fresh bool) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	uid := string(pod.UID)
	recorded, hasRecorded := kp.Status.VIFs[DefaultIfName]
	portID := recorded.VIF.ID
	if portID == "" {
		if id, ok := r.known.Load(uid); ok {
			portID = id.(string)
		}
	}

	var port *openstack.Port
	if portID != "" && r.Active != nil {
		port, _ = r.Active.Take(portID) // found ACTIVE by the poll that triggered this
	}
	if portID != "" && port == nil {
		p, err := r.OpenStack.GetPort(ctx, portID)
		switch {
		case err == nil:
			port = p
		case openstack.IsNotFound(err):
			log.Info("Port was deleted outside the controller; creating a new one", "portID", portID)
			r.event(pod, corev1.EventTypeWarning, apiv1.ReasonPortRecreated, "RecreatePort",
				"Neutron port %s was deleted outside kuryr; creating a new one", portID)
			r.known.Delete(uid)
			metrics.PortsManaged.Dec()
			fresh = false
		default:
			return r.openStackError(ctx, pod, kp, err)
		}
	}
	if port == nil && !fresh {
		p, err := r.adopt(ctx, pod)
		if err != nil { // never create when we could not look: that is how duplicates happen
			return r.openStackError(ctx, pod, kp, err)
		}
		port = p
	}
	if port == nil {
		p, err := r.newPort(ctx, pod)
		if err != nil {
			return r.openStackError(ctx, pod, kp, err)
		}
		port = p
		r.known.Store(uid, port.ID)
		metrics.PortsManaged.Inc()
	}

	firstRecord := !hasRecorded || recorded.VIF.ID != port.ID
	active, err := r.writeStatus(ctx, kp, port)
	if err != nil {
		return ctrl.Result{}, err
	}
	r.known.Store(uid, port.ID)
	if !hasRecorded {
		metrics.ObservePodLatency(metrics.StageRecorded, pod.CreationTimestamp.Time)
	}
	if active && (!hasRecorded || !recorded.VIF.Active) {
		metrics.ObservePodLatency(metrics.StageActive, pod.CreationTimestamp.Time)
		log.V(1).Info("Port is ACTIVE", "portID", port.ID)
	}
	if !active && firstRecord {
		r.event(pod, corev1.EventTypeNormal, apiv1.ReasonWaitingActive, "WaitForActive",
			"Waiting for Neutron to report port %s ACTIVE on %s", port.ID, pod.Spec.NodeName)
	}
	if r.Pool != nil && port.DeviceID != uid {
		// A pool port: recorded now, so it can take the pod's identity.
		r.Pool.Bind(port, pod)
	}
	if res, done, err := r.ensureBinding(ctx, pod, kp, port); done {
		return res, err
	}
	if !active {
		if r.Active != nil {
			// one list call per interval for all waiting ports enqueues this pod when ACTIVE;
			// the slower requeue only covers a failing watch
			r.Active.Wait(port.ID, client.ObjectKeyFromObject(pod))
			return ctrl.Result{RequeueAfter: max(r.pollInterval(kp), activeFallback)}, nil
		}
		return ctrl.Result{RequeueAfter: r.pollInterval(kp)}, nil
	}
	if r.Active != nil {
		r.Active.Done(port.ID)
	}
	r.rebinds.Delete(port.ID)
	return ctrl.Result{}, nil
}

// newPort creates the pod's port, or takes one from its pool when pools are enabled.
func (r *Reconciler) newPort(ctx context.Context, pod *corev1.Pod) (*openstack.Port, error) {
	log := ctrl.LoggerFrom(ctx)
	if r.Pool == nil {
		port, err := r.OpenStack.CreatePort(ctx, r.createOpts(pod))
		if err != nil {
			return nil, fmt.Errorf("creating port: %w", err)
		}
		log.Info("Created port", "portID", port.ID, "ip", firstIP(port))
		r.event(pod, corev1.EventTypeNormal, apiv1.ReasonPortCreated, "CreatePort",
			"Created Neutron port %s (%s) bound to %s", port.ID, firstIP(port), pod.Spec.NodeName)
		return port, nil
	}
	port, hit, err := r.Pool.Acquire(ctx, r.poolKey(pod.Spec.NodeName), pod)
	if err != nil {
		return nil, fmt.Errorf("getting a port: %w", err)
	}
	if hit {
		log.Info("Took port from pool", "portID", port.ID, "ip", firstIP(port))
		r.event(pod, corev1.EventTypeNormal, ReasonPortFromPool, "TakePort",
			"Took Neutron port %s (%s) from the pool of %s", port.ID, firstIP(port), pod.Spec.NodeName)
		return port, nil
	}
	log.Info("Created port (pool empty)", "portID", port.ID, "ip", firstIP(port))
	r.event(pod, corev1.EventTypeNormal, apiv1.ReasonPortCreated, "CreatePort",
		"Created Neutron port %s (%s) bound to %s (its pool was empty)", port.ID, firstIP(port), pod.Spec.NodeName)
	return port, nil
}

// poolKey is the pool of the pods of node: every pod port shares project, network and SGs.
func (r *Reconciler) poolKey(node string) pool.Key {
	return pool.NewKey(node, r.Network.ProjectID, r.Network.Network.ID, r.Network.SecurityGroups)
}

func (r *Reconciler) createOpts(pod *corev1.Pod) openstack.PortCreateOpts {
	return openstack.PortCreateOpts{
		Name:           pod.Name,
		NetworkID:      r.Network.Network.ID,
		ProjectID:      r.Network.ProjectID,
		SubnetIDs:      []string{r.Network.Subnet.ID},
		DeviceOwner:    openstack.DeviceOwnerKuryr,
		DeviceID:       string(pod.UID),
		HostID:         pod.Spec.NodeName,
		SecurityGroups: r.Network.SecurityGroups,
		Tags:           ownership.PortTags(r.ClusterID, string(pod.UID), r.ResourceTags),
	}
}

// adopt returns the port created earlier for this pod but never recorded, or nil. If several
// exist (only possible after a bug or an outside create), the oldest is kept and the others
// deleted: they carry this pod's UID, so nobody else can be using them.
func (r *Reconciler) adopt(ctx context.Context, pod *corev1.Pod) (*openstack.Port, error) {
	ports, err := r.OpenStack.ListPorts(ctx, openstack.PortFilter{
		DeviceID: string(pod.UID), DeviceOwner: openstack.DeviceOwnerKuryr,
	})
	if err != nil {
		return nil, fmt.Errorf("looking for an unrecorded port: %w", err)
	}
	if len(ports) == 0 {
		return nil, nil
	}
	sort.SliceStable(ports, func(i, j int) bool { return ports[i].CreatedAt.Before(ports[j].CreatedAt) })
	log := ctrl.LoggerFrom(ctx)
	for _, extra := range ports[1:] {
		log.Info("Deleting duplicate port of the pod", "portID", extra.ID)
		if err := r.OpenStack.DeletePort(ctx, extra.ID); err != nil {
			return nil, fmt.Errorf("deleting duplicate port %s: %w", extra.ID, err)
		}
	}
	port := ports[0]
	want := ownership.PortTags(r.ClusterID, string(pod.UID), r.ResourceTags)
	if missing := missingTags(port.Tags, want); len(missing) > 0 {
		tags := append(append([]string{}, port.Tags...), missing...)
		if err := r.OpenStack.ReplacePortTags(ctx, port.ID, tags); err != nil {
			return nil, fmt.Errorf("tagging adopted port %s: %w", port.ID, err)
		}
		port.Tags = tags
	}
	log.Info("Adopted existing port", "portID", port.ID)
	r.event(pod, corev1.EventTypeNormal, apiv1.ReasonPortAdopted, "AdoptPort",
		"Adopted existing Neutron port %s (%s)", port.ID, firstIP(&port))
	return &port, nil
}

// ensureBinding re-triggers a failed binding by setting binding:host_id again (ML2 retries
// binding_failed ports on update); after maxRebinds attempts the port is replaced.
func (r *Reconciler) ensureBinding(ctx context.Context, pod *corev1.Pod, kp *apiv1.KuryrPort, port *openstack.Port) (ctrl.Result, bool, error) {
	failed := port.VIFType == openstack.VIFTypeBindingFailed
	if !failed && port.HostID == pod.Spec.NodeName {
		return ctrl.Result{}, false, nil
	}
	n := 1
	if v, ok := r.rebinds.Load(port.ID); ok {
		n = v.(int) + 1
	}
	if failed && n > maxRebinds {
		r.event(pod, corev1.EventTypeWarning, ReasonBindingFailed, "RecreatePort",
			"Binding of port %s to %s failed %d times; replacing the port", port.ID, pod.Spec.NodeName, maxRebinds)
		if err := r.OpenStack.DeletePort(ctx, port.ID); err != nil {
			res, err := r.openStackError(ctx, pod, kp, fmt.Errorf("deleting unbindable port: %w", err))
			return res, true, err
		}
		r.rebinds.Delete(port.ID)
		return ctrl.Result{RequeueAfter: r.timing().ActivePoll}, true, nil
	}
	r.rebinds.Store(port.ID, n)
	host := pod.Spec.NodeName
	if _, err := r.OpenStack.UpdatePort(ctx, port.ID, openstack.PortUpdateOpts{HostID: &host}); err != nil {
		res, err := r.openStackError(ctx, pod, kp, fmt.Errorf("re-binding port: %w", err))
		return res, true, err
	}
	if failed {
		r.event(pod, corev1.EventTypeWarning, ReasonBindingFailed, "RebindPort",
			"Binding of port %s to %s failed; retrying (attempt %d)", port.ID, host, n)
	}
	return ctrl.Result{RequeueAfter: 4 * r.timing().ActivePoll}, true, nil
}

// release deletes the ports of kp, then drops the KuryrPort finalizer (deleting the
// KuryrPort) and, if the pod itself is going or done, the pod finalizer.
func (r *Reconciler) release(ctx context.Context, pod *corev1.Pod, kp *apiv1.KuryrPort) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	uid := kp.Spec.PodUID
	ids := map[string]bool{}
	for _, v := range kp.Status.VIFs {
		if v.VIF.ID != "" {
			ids[v.VIF.ID] = true
		}
	}
	if id, ok := r.known.Load(uid); ok {
		ids[id.(string)] = true
	}
	if len(ids) == 0 && uid != "" {
		// Nothing recorded: a create may still have happened before a crash.
		ports, err := r.OpenStack.ListPorts(ctx, openstack.PortFilter{DeviceID: uid, DeviceOwner: openstack.DeviceOwnerKuryr})
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("looking for ports to release: %w", err)
		}
		for _, p := range ports {
			ids[p.ID] = true
		}
	}
	for id := range ids {
		var err error
		if r.Pool != nil {
			err = r.Pool.Release(ctx, &openstack.Port{ID: id}, r.poolKey(kp.Spec.PodNodeName))
		} else {
			err = r.OpenStack.DeletePort(ctx, id)
		}
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("releasing port %s: %w", id, err)
		}
		metrics.PortsManaged.Dec()
		log.Info("Released port", "portID", id)
	}
	r.known.Delete(uid)
	r.ownCreates.Delete(uid)
	for id := range ids {
		r.rebinds.Delete(id)
		if r.Active != nil {
			r.Active.Done(id)
		}
	}
	if err := r.removeKuryrPortFinalizer(ctx, kp); err != nil {
		return ctrl.Result{}, err
	}
	if kp.DeletionTimestamp == nil {
		err := r.Client.Delete(ctx, kp, client.Preconditions{UID: &kp.UID})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return ctrl.Result{}, fmt.Errorf("deleting KuryrPort: %w", err)
		}
	} else if pod != nil && string(pod.UID) == uid && pod.DeletionTimestamp == nil && !completed(pod) {
		r.event(pod, corev1.EventTypeWarning, apiv1.ReasonReleasing, "ReleasePort",
			"KuryrPort was deleted while the pod is running; its port was released and a new one will be created")
	}
	if pod != nil && string(pod.UID) == uid && (pod.DeletionTimestamp != nil || completed(pod) || pod.Spec.HostNetwork) {
		if err := r.removePodFinalizer(ctx, pod); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// pollInterval grows with the time the port has been waiting for ACTIVE, so pods whose
// node never plugs them do not keep Neutron busy.
func (r *Reconciler) pollInterval(kp *apiv1.KuryrPort) time.Duration {
	base := r.timing().ActivePoll
	waiting := time.Duration(0)
	if c := findCondition(kp.Status.Conditions, apiv1.ConditionProgressing); c != nil {
		waiting = time.Since(c.LastTransitionTime.Time)
	}
	switch {
	case waiting < 5*time.Second:
		return base
	case waiting < 30*time.Second:
		return 2 * base
	case waiting < 2*time.Minute:
		return 10 * base
	default:
		return 60 * base
	}
}

func firstIP(p *openstack.Port) string {
	ips := make([]string, 0, len(p.FixedIPs))
	for _, ip := range p.FixedIPs {
		ips = append(ips, ip.IPAddress)
	}
	return strings.Join(ips, ",")
}

func missingTags(have, want []string) []string {
	set := map[string]bool{}
	for _, t := range have {
		set[t] = true
	}
	var out []string
	for _, t := range want {
		if !set[t] {
			out = append(out, t)
		}
	}
	return out
}
