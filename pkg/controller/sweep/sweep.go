// Package sweep deletes Neutron ports that carry this cluster's tag but belong to no pod
// (free pool ports belong to no pod by design: they are only deleted with their node),
// and asks the pod controller to look at KuryrPorts whose port has disappeared. Both come
// from one list per managed network and period (cluster tag, network and project),
// whatever the number of pods: a port of another cluster or project is never looked at.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/controller/podnet"
	"github.com/kuryr-go/kuryr-go/pkg/metrics"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

// Sweeper is a manager Runnable; it runs on the leader only.
type Sweeper struct {
	// Reader lists pods and KuryrPorts, normally from the manager's cache.
	Reader  client.Reader
	Neutron neutron.Client
	// Networks are where the cluster's pod ports live; only they are swept.
	Networks  podnet.Resolver
	ClusterID string
	Period    time.Duration
	// Grace protects ports younger than this (created_at): their KuryrPort may not be
	// written yet, or not be in the cache yet.
	Grace time.Duration
	// Enqueue asks the pod controller to reconcile a pod; may be nil.
	Enqueue func(types.NamespacedName)
	// WaitForCache blocks until the cache has synced; may be nil.
	WaitForCache func(context.Context) bool
	Log          logr.Logger
	// Now is the clock, replaceable in tests.
	Now func() time.Time
	// DryRun finds what a sweep would delete without deleting it (kuryrctl gc).
	DryRun bool
}

// Result sums up one sweep.
type Result struct {
	Listed, Referenced, Deleted, Missing int
	// Collected are the ports deleted (or, in a dry run, to delete), with the reason.
	Collected []Collected
	// MissingPorts are KuryrPorts whose recorded port is not in Neutron.
	MissingPorts []types.NamespacedName
}

// Collected is a port the sweep deleted or would delete.
type Collected struct {
	PortID, Name, Node, Reason string
}

// Start runs a sweep every Period until ctx ends. Errors are logged, never fatal.
func (s *Sweeper) Start(ctx context.Context) error {
	if s.Period <= 0 {
		return nil
	}
	if s.WaitForCache != nil && !s.WaitForCache(ctx) {
		return nil
	}
	t := time.NewTicker(s.Period)
	defer t.Stop()
	for {
		if res, err := s.SweepOnce(ctx); err != nil {
			s.Log.Error(err, "Port sweep failed")
		} else if res.Deleted > 0 || res.Missing > 0 {
			s.Log.Info("Port sweep done", "listed", res.Listed, "deleted", res.Deleted, "missing", res.Missing)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SweepOnce lists the cluster's ports once, deletes those no pod or KuryrPort claims and
// that are older than Grace, and enqueues pods whose recorded port is not in the list.
// A failed list deletes nothing.
func (s *Sweeper) SweepOnce(ctx context.Context) (Result, error) {
	var res Result
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if s.ClusterID == "" {
		return res, errors.New("no cluster ID: nothing can be told apart as the cluster's")
	}
	var ports []neutron.Port
	for _, t := range s.Networks.Targets() {
		found, err := s.Neutron.ListPorts(ctx, neutron.PortFilter{
			Tags: []string{ownership.ClusterTag(s.ClusterID)}, NetworkID: t.Network.ID, ProjectID: t.ProjectID,
		})
		if err != nil {
			return res, fmt.Errorf("listing the cluster's ports on network %s: %w", t.Network.ID, err)
		}
		ports = append(ports, found...)
	}
	res.Listed = len(ports)
	// Read Kubernetes after Neutron: anything created in between is young and protected by
	// the grace period, or is found in the caches.
	var kps apiv1.KuryrPortList
	if err := s.Reader.List(ctx, &kps, client.UnsafeDisableDeepCopy); err != nil {
		return res, fmt.Errorf("listing KuryrPorts: %w", err)
	}
	var pods corev1.PodList
	if err := s.Reader.List(ctx, &pods, client.UnsafeDisableDeepCopy); err != nil {
		return res, fmt.Errorf("listing pods: %w", err)
	}
	nodes, err := s.nodes(ctx)
	if err != nil {
		return res, err
	}
	recorded := map[string]types.NamespacedName{}
	claimed := map[string]bool{} // pod UIDs with a KuryrPort
	for i := range kps.Items {
		kp := &kps.Items[i]
		claimed[kp.Spec.PodUID] = true
		for _, id := range kp.PortIDs() {
			recorded[id] = types.NamespacedName{Namespace: kp.Namespace, Name: kp.Name}
		}
	}
	livePods := map[string]bool{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			livePods[string(p.UID)] = true
		}
	}

	inNeutron := map[string]bool{}
	for i := range ports {
		p := &ports[i]
		inNeutron[p.ID] = true
		if _, ok := recorded[p.ID]; ok {
			res.Referenced++
			continue
		}
		if p.DeviceOwner != neutron.DeviceOwnerKuryr {
			continue // not a pod port; never ours to collect here
		}
		if p.HasTag(ownership.PoolTag) {
			// A free pool port belongs to no pod by design; it goes only with its node.
			if nodes != nil && p.HostID != "" && !nodes[p.HostID] && s.old(p, now()) {
				if err := s.collect(ctx, &res, p, "pool port of a removed node"); err != nil {
					return res, err
				}
			}
			continue
		}
		uid := p.DeviceID
		if tagUID, ok := ownership.PodUIDFromTags(p.Tags); ok {
			uid = tagUID
		}
		if livePods[uid] || claimed[uid] {
			continue // the pod controller adopts or releases it
		}
		if !s.old(p, now()) {
			continue
		}
		if err := s.collect(ctx, &res, p, "no pod or KuryrPort with UID "+uid); err != nil {
			return res, err
		}
	}
	for id, key := range recorded {
		if !inNeutron[id] {
			res.Missing++
			res.MissingPorts = append(res.MissingPorts, key)
			if s.Enqueue != nil {
				s.Enqueue(key)
			}
		}
	}
	metrics.PortsManaged.Set(float64(res.Referenced))
	return res, nil
}

// collect deletes p (or only records it in a dry run).
func (s *Sweeper) collect(ctx context.Context, res *Result, p *neutron.Port, reason string) error {
	res.Collected = append(res.Collected, Collected{PortID: p.ID, Name: p.Name, Node: p.HostID, Reason: reason})
	if s.DryRun {
		return nil
	}
	s.Log.Info("Deleting orphaned port", "portID", p.ID, "name", p.Name, "node", p.HostID, "reason", reason, "createdAt", p.CreatedAt)
	if err := s.Neutron.DeletePort(ctx, p.ID); err != nil {
		return fmt.Errorf("deleting orphaned port %s (%s): %w", p.ID, reason, err)
	}
	metrics.OrphansDeleted.Inc()
	res.Deleted++
	return nil
}

// old reports whether p is past the grace period.
func (s *Sweeper) old(p *neutron.Port, now time.Time) bool {
	return p.CreatedAt.IsZero() || now.Sub(p.CreatedAt) >= s.Grace
}

// nodes returns the names of the cluster's nodes, or nil when none are listed (a cluster
// without nodes, or a reader without them): then no pool port is ever collected.
func (s *Sweeper) nodes(ctx context.Context) (map[string]bool, error) {
	var list corev1.NodeList
	if err := s.Reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	out := make(map[string]bool, len(list.Items))
	for i := range list.Items {
		out[list.Items[i].Name] = true
	}
	return out, nil
}
