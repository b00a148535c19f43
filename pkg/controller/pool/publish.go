package pool

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// Publishing: the free ports of each node are written to the node's KuryrPortPool, so that
// its daemon can plug them ahead of the pods (see package plug, "parking"). The object
// follows the pools, at most once per PublishInterval; a node without free ports has an
// empty list, and the object goes once the node is removed from the cluster.

// publishRetry is the pause after a failed publish (the CRD missing, the API down).
const publishRetry = 10 * time.Second

// poke asks the publisher to write the pools soon; it never blocks.
func (m *Manager) poke() {
	select {
	case m.publishQ <- struct{}{}:
	default:
	}
}

// publishLoop writes the KuryrPortPools whenever the pools changed, at most once per
// PublishInterval, and every SyncPeriod in any case (repairing edits by others).
func (m *Manager) publishLoop(ctx context.Context) {
	t := time.NewTicker(m.o.SyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.publishQ:
		case <-t.C:
		}
		wait := m.o.PublishInterval
		if err := m.publish(ctx); err != nil && ctx.Err() == nil {
			wait = max(wait, publishRetry)
			m.o.Log.Error(err, "Publishing the free pool ports failed; retrying", "retryAfter", wait)
			m.poke()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// desiredPools returns each node's free ports as VIFs, in the order they are handed out.
func (m *Manager) desiredPools() map[string][]apiv1.VIF {
	out := map[string][]apiv1.VIF{}
	m.pools.Range(func(_, v any) bool {
		p := v.(*pool)
		p.mu.Lock()
		free := slices.Clone(p.free)
		p.mu.Unlock()
		for i := range free {
			if vif, ok := m.o.VIFOf(&free[i]); ok {
				out[p.key.Node] = append(out[p.key.Node], vif)
			}
		}
		if _, ok := out[p.key.Node]; !ok {
			out[p.key.Node] = nil
		}
		return true
	})
	return out
}

// publish makes every node's KuryrPortPool list the node's free ports.
func (m *Manager) publish(ctx context.Context) error {
	desired := m.desiredPools()
	var existing apiv1.KuryrPortPoolList
	if err := m.o.Writer.List(ctx, &existing); err != nil {
		return fmt.Errorf("listing KuryrPortPools: %w", err)
	}
	have := map[string]*apiv1.KuryrPortPool{}
	for i := range existing.Items {
		have[existing.Items[i].Name] = &existing.Items[i]
	}
	for node, vifs := range desired {
		cur := have[node]
		delete(have, node)
		if cur != nil && len(vifs) == 0 && len(cur.Spec.Ports) == 0 {
			if err := m.deleteIfNodeGone(ctx, cur); err != nil {
				return err
			}
			continue
		}
		if err := m.publishNode(ctx, cur, node, vifs); err != nil {
			return err
		}
	}
	for _, kpp := range have { // nodes without pools
		if len(kpp.Spec.Ports) > 0 {
			if err := m.publishNode(ctx, kpp, kpp.Name, nil); err != nil {
				return err
			}
			continue
		}
		if err := m.deleteIfNodeGone(ctx, kpp); err != nil {
			return err
		}
	}
	return nil
}

// deleteIfNodeGone deletes an empty KuryrPortPool whose node was removed from the cluster.
func (m *Manager) deleteIfNodeGone(ctx context.Context, kpp *apiv1.KuryrPortPool) error {
	err := m.o.Writer.Get(ctx, types.NamespacedName{Name: kpp.Name}, &corev1.Node{})
	if err == nil || !apierrors.IsNotFound(err) {
		return client.IgnoreNotFound(err)
	}
	err = m.o.Writer.Delete(ctx, kpp, client.Preconditions{UID: &kpp.UID, ResourceVersion: &kpp.ResourceVersion})
	switch {
	case err == nil:
		m.o.Log.Info("Deleted the KuryrPortPool of a removed node", "node", kpp.Name)
	case apierrors.IsConflict(err): // changed meanwhile: the next publish looks again
		m.poke()
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("deleting KuryrPortPool of removed node %s: %w", kpp.Name, err)
	}
	return nil
}

func (m *Manager) publishNode(ctx context.Context, cur *apiv1.KuryrPortPool, node string, vifs []apiv1.VIF) error {
	spec := apiv1.KuryrPortPoolSpec{NodeName: node, Ports: vifs}
	if cur == nil {
		if len(vifs) == 0 {
			return nil
		}
		kpp := &apiv1.KuryrPortPool{Spec: spec}
		kpp.Name = node
		if err := m.o.Writer.Create(ctx, kpp); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating KuryrPortPool %s: %w", node, err)
		}
		return nil
	}
	if apiequality.Semantic.DeepEqual(cur.Spec, spec) {
		return nil
	}
	next := cur.DeepCopy()
	next.Spec = spec
	if err := m.o.Writer.Patch(ctx, next, client.MergeFromWithOptions(cur, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			m.poke()
			return nil
		}
		return fmt.Errorf("updating KuryrPortPool %s: %w", node, err)
	}
	return nil
}

// portVIF is the default VIFOf: none (nothing is published).
func portVIF(*neutron.Port) (apiv1.VIF, bool) { return apiv1.VIF{}, false }
