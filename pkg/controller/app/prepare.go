package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/controller/podnet"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/clients"
)

// OpenStack is what the controllers get from OpenStack: the service clients and the
// checked pod networks.
type OpenStack struct {
	*clients.Clients
	Networks podnet.Resolver
}

// Prepare connects to OpenStack and checks the configured resources, retrying while Neutron
// is unreachable (transient errors) for up to timeout. Configuration errors return at once.
func Prepare(ctx context.Context, cfg *config.Config, timeout time.Duration, log logr.Logger) (*OpenStack, error) {
	if timeout <= 0 {
		timeout = time.Minute
	}
	deadline := time.Now().Add(timeout)
	delay := 500 * time.Millisecond
	for {
		cs, err := clients.Connect(ctx, cfg.Neutron)
		if err == nil {
			var nets *podnet.Static
			nets, err = podnet.ResolveStatic(ctx, cs.Neutron, cs.Keystone, cfg.NeutronDefaults, log)
			if err == nil {
				return &OpenStack{Clients: cs, Networks: nets}, nil
			}
		}
		if !openstack.IsRetryable(err) || time.Now().Add(delay).After(deadline) {
			return nil, err
		}
		log.Info("OpenStack not reachable yet; retrying", "error", err.Error(), "retryAfter", delay)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// ClusterID returns the configured [kubernetes] cluster_id or, when it is not set, one
// derived from the cluster itself: the UID of its kube-system namespace, which no other
// cluster has and which stays the same across restarts and controller replicas.
func ClusterID(ctx context.Context, r client.Reader, configured string, log logr.Logger) (string, error) {
	if configured != "" {
		return configured, nil
	}
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: "kube-system"}, ns); err != nil {
		return "", fmt.Errorf("[kubernetes] cluster_id is not set and it cannot be derived from the kube-system namespace: %w", err)
	}
	if ns.UID == "" {
		return "", errors.New("[kubernetes] cluster_id is not set and the kube-system namespace has no UID")
	}
	id := string(ns.UID)
	log.Info("[kubernetes] cluster_id is not set; using the UID of the kube-system namespace", "clusterID", id)
	return id, nil
}
