package podport

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/controller/osresource"
	"github.com/kuryr-go/kuryr-go/pkg/controller/podnet"
	"github.com/kuryr-go/kuryr-go/pkg/metrics"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

// DefaultIfName is the interface name of the pod's default VIF.
const DefaultIfName = "eth0"

// ReasonPortFromPool is the Event reason of a pod served from its node's port pool.
const ReasonPortFromPool = "PortFromPool"

// ensurePort finds or creates the pod's port through the osresource lifecycle and records
// it: the ID stored in status (or remembered), verified as the pod's; else a port carrying
// the pod's UID on its network (a create whose status write was lost); else a new one.
// fresh means the KuryrPort was created by this very reconcile.
func (r *Reconciler) ensurePort(ctx context.Context, pod *corev1.Pod, kp *apiv1.KuryrPort, fresh bool) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	uid := string(pod.UID)
	target, err := r.Networks.For(ctx, pod)
	if err != nil {
		return r.failed(ctx, pod, kp, "ResolveNetwork", fmt.Errorf("resolving the pod's network: %w", err))
	}
	recorded, hasRecorded := kp.Status.VIFs[DefaultIfName]
	stored := recorded.VIF.ID
	var replacedID string
	r.update(uid, func(rec *record) {
		if stored == "" {
			stored = rec.portID
		}
		if stored == "" {
			stored = rec.carriedID
		}
		replacedID = rec.replacedID
	})
	var read *neutron.Port
	if stored != "" && r.Active != nil {
		read, _ = r.Active.Take(stored) // found ACTIVE by the poll that triggered this
	}
	a := r.actuator(pod, target)
	res, err := osresource.Ensure(ctx, a, osresource.EnsureOptions[neutron.Port]{
		StoredID: stored, Read: read,
		// A pod with an IP address has been plugged with some port: look for it.
		Fresh: fresh && pod.Status.PodIP == "",
	})
	r.reportRefused(pod, kp, res.Refused)
	if res.Gone != "" {
		metrics.PortsManaged.Dec()
		if res.Gone != replacedID {
			log.Info("Port was deleted outside the controller; replacing it", "portID", res.Gone)
			note := "Neutron port %s was deleted outside kuryr; the pod gets another port"
			if pod.Status.PodIP != "" {
				note += ", which it is plugged with when it is restarted (its network is down until then)"
			}
			r.event(pod, corev1.EventTypeWarning, apiv1.ReasonPortRecreated, "RecreatePort", note, res.Gone)
		}
	}
	if err != nil {
		return r.failed(ctx, pod, kp, "CreatePort", err)
	}
	port := res.Resource
	switch res.Outcome {
	case osresource.Adopted:
		if err := r.tagAdopted(ctx, pod, port); err != nil {
			return r.failed(ctx, pod, kp, "AdoptPort", err)
		}
		metrics.PortsManaged.Inc()
	case osresource.Created:
		metrics.PortsManaged.Inc()
	}
	r.update(uid, func(rec *record) { rec.portID, rec.carriedID = port.ID, "" })
	if err := r.convergeSecurityGroups(ctx, pod, port, target); err != nil {
		return r.failed(ctx, pod, kp, "UpdatePort", err)
	}

	firstRecord := !hasRecorded || recorded.VIF.ID != port.ID
	active, err := r.writeStatus(ctx, kp, port, target)
	if err != nil {
		return ctrl.Result{}, err
	}
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
	r.update(uid, func(rec *record) { rec.rebinds, rec.replaced, rec.replacedID = 0, 0, "" })
	return ctrl.Result{}, nil
}

// newPort creates the pod's port, or takes one from its pool when pools are enabled.
func (r *Reconciler) newPort(ctx context.Context, pod *corev1.Pod, t *podnet.Target) (*neutron.Port, error) {
	log := ctrl.LoggerFrom(ctx)
	if r.Pool == nil {
		port, err := r.Neutron.CreatePort(ctx, r.createOpts(pod, t))
		if err != nil {
			return nil, fmt.Errorf("creating port: %w", err)
		}
		log.Info("Created port", "portID", port.ID, "ips", ips(port))
		r.event(pod, corev1.EventTypeNormal, apiv1.ReasonPortCreated, "CreatePort",
			"Created Neutron port %s (%s) bound to %s", port.ID, ips(port), pod.Spec.NodeName)
		return port, nil
	}
	port, hit, err := r.Pool.Acquire(ctx, r.poolKey(pod.Spec.NodeName, t), pod)
	if err != nil {
		return nil, fmt.Errorf("getting a port: %w", err)
	}
	if hit {
		log.Info("Took port from pool", "portID", port.ID, "ips", ips(port))
		r.event(pod, corev1.EventTypeNormal, ReasonPortFromPool, "TakePort",
			"Took Neutron port %s (%s) from the pool of %s", port.ID, ips(port), pod.Spec.NodeName)
		return port, nil
	}
	log.Info("Created port (pool empty)", "portID", port.ID, "ips", ips(port))
	r.event(pod, corev1.EventTypeNormal, apiv1.ReasonPortCreated, "CreatePort",
		"Created Neutron port %s (%s) bound to %s (its pool was empty)", port.ID, ips(port), pod.Spec.NodeName)
	return port, nil
}

// tagAdopted gives an adopted port the tags a created one has (a port of kuryr-kubernetes
// has no cluster tag).
func (r *Reconciler) tagAdopted(ctx context.Context, pod *corev1.Pod, port *neutron.Port) error {
	want := ownership.PortTags(r.ClusterID, string(pod.UID), r.ResourceTags)
	if missing := ownership.Missing(port.Tags, want); len(missing) > 0 {
		tags := append(append([]string{}, port.Tags...), missing...)
		if err := r.Neutron.ReplacePortTags(ctx, port.ID, tags); err != nil {
			return fmt.Errorf("tagging adopted port %s: %w", port.ID, err)
		}
		port.Tags = tags
	}
	ctrl.LoggerFrom(ctx).Info("Adopted existing port", "portID", port.ID)
	r.event(pod, corev1.EventTypeNormal, apiv1.ReasonPortAdopted, "AdoptPort",
		"Adopted existing Neutron port %s (%s)", port.ID, ips(port))
	return nil
}

// convergeSecurityGroups sets the port's security groups to the pod's target. A pool port
// not bound to the pod yet is left to the pool, which gives it the pod's identity.
func (r *Reconciler) convergeSecurityGroups(ctx context.Context, pod *corev1.Pod, port *neutron.Port, t *podnet.Target) error {
	if port.DeviceID != string(pod.UID) || t.SameSecurityGroups(port) {
		return nil
	}
	sgs := append([]string{}, t.SecurityGroups...)
	if _, err := r.Neutron.UpdatePort(ctx, port.ID, neutron.PortUpdateOpts{SecurityGroups: &sgs}); err != nil {
		return fmt.Errorf("setting the security groups of port %s: %w", port.ID, err)
	}
	r.event(pod, corev1.EventTypeNormal, apiv1.ReasonSecurityGroupsUpdated, "UpdatePort",
		"Security groups of port %s set to %s (were %s)", port.ID, strings.Join(sgs, ","), strings.Join(port.SecurityGroups, ","))
	port.SecurityGroups = sgs
	return nil
}

// ips lists the port's addresses.
func ips(p *neutron.Port) string {
	out := make([]string, 0, len(p.FixedIPs))
	for _, ip := range p.FixedIPs {
		out = append(out, ip.IPAddress)
	}
	return strings.Join(out, ",")
}
