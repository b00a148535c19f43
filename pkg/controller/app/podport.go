package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/controller/podnet"
	"github.com/kuryr-go/kuryr-go/pkg/controller/podport"
	"github.com/kuryr-go/kuryr-go/pkg/controller/pool"
	"github.com/kuryr-go/kuryr-go/pkg/controller/sweep"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/vif"
)

func vifOptions(cfg *config.Config) vif.Options {
	return vif.Options{OVSBridge: cfg.NeutronDefaults.OVSBridge, DeviceMTU: cfg.NeutronDefaults.NetworkDeviceMTU}
}

// setupPodPort adds the pod port reconciler, the port pools and the orphan sweep.
func setupPodPort(d Deps) error {
	mgr, cfg, log := d.Manager, d.Config, d.Log
	if len(cfg.VIFPool.VIFPoolMapping) > 0 {
		log.Info("[vif_pool] vif_pool_mapping is not supported: every pod uses [kubernetes] vif_pool_driver",
			"vifPoolDriver", cfg.Kubernetes.VIFPoolDriver)
	}
	trigger := make(chan event.GenericEvent, 1024)
	r := &podport.Reconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Neutron:      d.OpenStack.Neutron,
		Networks:     d.OpenStack.Networks,
		ClusterID:    d.ClusterID,
		ResourceTags: cfg.NeutronDefaults.ResourceTags,
		VIF:          vifOptions(cfg),
		Workers:      cfg.Controller.Workers,
		Trigger:      trigger,
		Active: &podport.ActiveWatch{Neutron: d.OpenStack.Neutron, Interval: cfg.Controller.ActivePollInterval,
			Log: log.WithName("active-watch")},
		SkipNameValidation: d.Options.SkipNameValidation,
		Timing: podport.Timing{
			ActivePoll: cfg.Controller.ActivePollInterval, QuotaRetry: cfg.Controller.QuotaRetryInterval,
			BackoffMax: cfg.Controller.MaxRetryInterval, ReleaseTimeout: cfg.Controller.ReleaseTimeout,
		},
	}
	if cfg.Kubernetes.UseEvents {
		r.Recorder = mgr.GetEventRecorder("kuryr-controller")
	}
	if cfg.Kubernetes.VIFPoolDriver == config.PoolDriverNeutron {
		pools := NewPools(mgr, cfg, d.OpenStack.Neutron, d.OpenStack.Networks, d.ClusterID, log)
		if err := mgr.Add(pools); err != nil {
			return fmt.Errorf("adding the port pools: %w", err)
		}
		if err := mgr.AddReadyzCheck("pools", pools.ReadyCheck); err != nil {
			return err
		}
		r.Pool = pools
	}
	if cfg.Kubernetes.VIFPoolDriver != config.PoolDriverNeutron || !cfg.VIFPool.PortsPoolPreplug {
		// Nothing is published: empty what an earlier configuration published, so the
		// nodes unplug the ports they parked.
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			clearPortPools(ctx, mgr.GetClient(), log)
			return nil
		})); err != nil {
			return err
		}
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the pod port controller: %w", err)
	}
	s := &sweep.Sweeper{
		Reader:       mgr.GetClient(),
		Neutron:      d.OpenStack.Neutron,
		Networks:     d.OpenStack.Networks,
		ClusterID:    d.ClusterID,
		Period:       cfg.Controller.SweepPeriod,
		Grace:        cfg.Controller.SweepGracePeriod,
		WaitForCache: mgr.GetCache().WaitForCacheSync,
		Log:          log.WithName("sweep"),
		Enqueue: func(key types.NamespacedName) {
			obj := &corev1.Pod{}
			obj.Namespace, obj.Name = key.Namespace, key.Name
			select {
			case trigger <- event.GenericEvent{Object: obj}:
			default: // the queue is full; the next sweep tries again
			}
		},
	}
	if err := mgr.Add(s); err != nil {
		return fmt.Errorf("adding the port sweep: %w", err)
	}
	return nil
}

// NewPools builds the neutron pool driver from [vif_pool]; it runs on the leader only.
func NewPools(mgr ctrl.Manager, cfg *config.Config, osc neutron.Client, nets podnet.Resolver, clusterID string, log logr.Logger) *pool.Manager {
	t := nets.Targets()[0]
	vp := cfg.VIFPool
	o := pool.Options{
		Neutron:      osc,
		Reader:       mgr.GetClient(),
		WaitForCache: mgr.GetCache().WaitForCacheSync,
		Spec: pool.Spec{
			ClusterID:    clusterID,
			ResourceTags: cfg.NeutronDefaults.ResourceTags,
			ProjectID:    t.ProjectID,
			Subnets:      map[string][]string{t.Network.ID: t.SubnetIDs()},
		},
		Min: vp.PortsPoolMin, Max: vp.PortsPoolMax, Batch: vp.PortsPoolBatch,
		SyncPeriod:  vp.PortsPoolUpdateFrequency,
		QuotaRetry:  cfg.Controller.QuotaRetryInterval,
		QuietPeriod: 2 * time.Second, LongQuietPeriod: 10 * time.Second, MaxDefer: 30 * time.Second,
		Log: log.WithName("pool"),
	}
	if vp.PortsPoolPreplug {
		o.Writer = mgr.GetClient()
		vifOpts := vifOptions(cfg)
		o.VIFOf = func(p *neutron.Port) (apiv1.VIF, bool) {
			if p.NetworkID != t.Network.ID {
				return apiv1.VIF{}, false
			}
			return t.VIF(p, vifOpts), true
		}
	}
	return pool.New(o)
}

// clearPortPools deletes every KuryrPortPool; failures are logged (the CRD may be missing).
func clearPortPools(ctx context.Context, c client.Client, log logr.Logger) {
	var list apiv1.KuryrPortPoolList
	if err := c.List(ctx, &list); err != nil {
		log.V(1).Info("Not clearing KuryrPortPools", "error", err.Error())
		return
	}
	for i := range list.Items {
		if err := client.IgnoreNotFound(c.Delete(ctx, &list.Items[i])); err != nil {
			log.Error(err, "Deleting a KuryrPortPool of an earlier configuration failed", "node", list.Items[i].Name)
		}
	}
	if len(list.Items) > 0 {
		log.Info("Deleted the KuryrPortPools of an earlier configuration", "count", len(list.Items))
	}
}

// neutronCheck reports ready while the first pod subnet can be read, asking Neutron at most
// every 15 seconds.
func neutronCheck(os *OpenStack) healthz.Checker {
	subnetID := os.Networks.Targets()[0].Subnets[0].ID
	var mu sync.Mutex
	var last time.Time
	var lastErr error
	return func(req *http.Request) error {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < 15*time.Second {
			return lastErr
		}
		ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
		defer cancel()
		_, err := os.Neutron.GetSubnet(ctx, subnetID)
		if err != nil && !errors.Is(err, context.Canceled) {
			err = fmt.Errorf("neutron: %w", err)
		}
		last, lastErr = time.Now(), err
		return err
	}
}
