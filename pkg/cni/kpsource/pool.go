package kpsource

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

// PoolUnavailable says why the node's KuryrPortPool cannot be read (nil when it can): the
// CRD is not installed, so no port is plugged ahead.
func (s *Source) PoolUnavailable() error { return s.poolErr }

// Pool returns this node's KuryrPortPool (the free ports the controller published and the
// status last reported), or nil when there is none. The object is the cache's: read only.
func (s *Source) Pool(ctx context.Context) (*apiv1.KuryrPortPool, error) {
	if s.poolErr != nil {
		return nil, s.poolErr
	}
	// Read-only use: no copy of the cached object (it is read on every change during bursts).
	var kpp apiv1.KuryrPortPool
	err := s.cache.Get(ctx, types.NamespacedName{Name: s.nodeName}, &kpp, client.UnsafeDisableDeepCopy)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading KuryrPortPool %s from the cache: %w", s.nodeName, err)
	}
	return &kpp, nil
}

// PodPorts returns the IDs of the ports recorded in this node's KuryrPorts.
func (s *Source) PodPorts(ctx context.Context) (map[string]bool, error) {
	var list apiv1.KuryrPortList
	if err := s.cache.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing KuryrPorts from the cache: %w", err)
	}
	ids := map[string]bool{}
	for i := range list.Items {
		for _, v := range list.Items[i].Status.VIFs {
			ids[v.VIF.ID] = true
		}
	}
	return ids, nil
}

// SetPoolStatus records how many of the free ports are plugged here.
func (s *Source) SetPoolStatus(ctx context.Context, st apiv1.KuryrPortPoolStatus) error {
	if s.poolErr != nil {
		return nil
	}
	kpp := &apiv1.KuryrPortPool{}
	kpp.Name = s.nodeName
	patch := []byte(fmt.Sprintf(`{"status":{"free":%d,"plugged":%d}}`, st.Free, st.Plugged))
	err := s.client.Status().Patch(ctx, kpp, client.RawPatch(types.MergePatchType, patch))
	if err != nil {
		return fmt.Errorf("updating the status of KuryrPortPool %s: %w", s.nodeName, err)
	}
	return nil
}
