// Package app wires the kuryr controller: configuration, OpenStack connection, start-up
// validation, the controller-runtime manager (leader election, probes, metrics), the pod
// port reconciler, the port pools and the orphan sweep.
package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/controller/podport"
	"github.com/kuryr-go/kuryr-go/pkg/controller/pool"
	"github.com/kuryr-go/kuryr-go/pkg/controller/sweep"
	"github.com/kuryr-go/kuryr-go/pkg/kubeclient"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/vif"
)

// Options are the command-line settings; the rest comes from kuryr.conf.
type Options struct {
	// Kubeconfig overrides [kubernetes] kubeconfig.
	Kubeconfig              string
	LeaderElect             bool
	LeaderElectionNamespace string
	LeaderElectionID        string
	// MetricsAddr and HealthAddr override the ports of kuryr.conf when not empty ("0" disables).
	MetricsAddr, HealthAddr string
	KubeQPS                 float32
	KubeBurst               int
	// StartupTimeout bounds the wait for a reachable Neutron at start-up.
	StartupTimeout time.Duration
	// Namespaces, when set, restricts the watches to these namespaces. The orphan sweep then
	// only sees their pods: give such a controller its own [kubernetes] cluster_id.
	Namespaces []string
	// SkipNameValidation allows several managers in one process (tests).
	SkipNameValidation bool
}

// Scheme knows the core types and the kuryr CRDs.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = apiv1.AddToScheme(s)
	return s
}

// Client-side limits of the Kubernetes API requests. A pod costs about four requests (pod
// finalizer, KuryrPort create and status, an Event): a burst of 200 pods must not wait for
// the client's token bucket (at 50 per second it did, for 16 s on the testbed).
const (
	DefaultKubeQPS   = 200
	DefaultKubeBurst = 300
)

func vifOptions(cfg *config.Config) vif.Options {
	return vif.Options{OVSBridge: cfg.NeutronDefaults.OVSBridge, DeviceMTU: cfg.NeutronDefaults.NetworkDeviceMTU}
}

// Prepare connects to OpenStack and checks the configured resources, retrying while Neutron
// is unreachable (transient errors) for up to timeout. Configuration errors return at once.
func Prepare(ctx context.Context, cfg *config.Config, timeout time.Duration, log logr.Logger) (openstack.Client, *podport.PodNetwork, error) {
	if timeout <= 0 {
		timeout = time.Minute
	}
	deadline := time.Now().Add(timeout)
	delay := 500 * time.Millisecond
	for {
		osc, err := openstack.Connect(ctx, cfg.Neutron)
		var net *podport.PodNetwork
		if err == nil {
			net, err = podport.ResolvePodNetwork(ctx, osc, cfg.NeutronDefaults, log)
			if err == nil {
				return osc, net, nil
			}
		}
		if !openstack.IsRetryable(err) || time.Now().Add(delay).After(deadline) {
			return nil, nil, err
		}
		log.Info("OpenStack not reachable yet; retrying", "error", err.Error(), "retryAfter", delay)
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// Run builds the manager with cfg and runs it until ctx ends.
func Run(ctx context.Context, cfg *config.Config, opts Options, log logr.Logger) error {
	osc, net, err := Prepare(ctx, cfg, opts.StartupTimeout, log)
	if err != nil {
		return err
	}
	restCfg, err := kubeclient.RestConfig(opts.Kubeconfig, cfg.Kubernetes)
	if err != nil {
		return err
	}
	if restCfg.Insecure {
		log.Info(kubeclient.InsecureWarning)
	}
	restCfg.QPS, restCfg.Burst = opts.KubeQPS, opts.KubeBurst
	if restCfg.QPS <= 0 {
		restCfg.QPS, restCfg.Burst = DefaultKubeQPS, DefaultKubeBurst
	}
	restCfg.UserAgent = "kuryr-controller"
	mgr, err := NewManager(restCfg, cfg, opts, log)
	if err != nil {
		return err
	}
	if err := Setup(mgr, cfg, opts, osc, net, log); err != nil {
		return err
	}
	log.Info("Starting kuryr controller", "openstack", openstack.Describe(cfg.Neutron),
		"podSubnet", net.Subnet.ID, "podNetwork", net.Network.ID, "clusterID", cfg.Kubernetes.ClusterID,
		"workers", cfg.Controller.Workers, "leaderElect", opts.LeaderElect, "vifPoolDriver", cfg.Kubernetes.VIFPoolDriver)
	return mgr.Start(ctx)
}

// NewManager creates the controller-runtime manager.
func NewManager(restCfg *rest.Config, cfg *config.Config, opts Options, log logr.Logger) (ctrl.Manager, error) {
	resync := cfg.Controller.ResyncPeriod
	id := opts.LeaderElectionID
	if id == "" {
		id = "kuryr-controller"
	}
	var namespaces map[string]cache.Config
	if len(opts.Namespaces) > 0 {
		namespaces = map[string]cache.Config{}
		for _, ns := range opts.Namespaces {
			namespaces[ns] = cache.Config{}
		}
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                        Scheme(),
		Logger:                        log,
		Metrics:                       metricsserver.Options{BindAddress: addr(opts.MetricsAddr, cfg.Prometheus.ControllerExporterPort)},
		HealthProbeBindAddress:        addr(opts.HealthAddr, cfg.HealthServer.Port),
		ReadinessEndpointName:         "/ready",
		LivenessEndpointName:          "/alive",
		LeaderElection:                opts.LeaderElect,
		LeaderElectionID:              id,
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		Cache: cache.Options{
			SyncPeriod:        &resync,
			DefaultTransform:  cache.TransformStripManagedFields(),
			DefaultNamespaces: namespaces,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the controller manager: %w", err)
	}
	return mgr, nil
}

func addr(override string, port int) string {
	if override != "" {
		return override
	}
	if port == 0 {
		return "0"
	}
	return ":" + strconv.Itoa(port)
}

// Setup adds the pod port reconciler, the orphan sweep and the probes to mgr.
func Setup(mgr ctrl.Manager, cfg *config.Config, opts Options, osc openstack.Client, net *podport.PodNetwork, log logr.Logger) error {
	trigger := make(chan event.GenericEvent, 1024)
	r := &podport.Reconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		OpenStack:    osc,
		Network:      net,
		ClusterID:    cfg.Kubernetes.ClusterID,
		ResourceTags: cfg.NeutronDefaults.ResourceTags,
		VIF:          vifOptions(cfg),
		Workers:      cfg.Controller.Workers,
		Trigger:      trigger,
		Active: &podport.ActiveWatch{OpenStack: osc, Interval: cfg.Controller.ActivePollInterval,
			Log: log.WithName("active-watch")},
		SkipNameValidation: opts.SkipNameValidation,
		Timing: podport.Timing{
			ActivePoll: cfg.Controller.ActivePollInterval, QuotaRetry: cfg.Controller.QuotaRetryInterval,
			BackoffMax: cfg.Controller.MaxRetryInterval,
		},
	}
	if cfg.Kubernetes.UseEvents {
		r.Recorder = mgr.GetEventRecorder("kuryr-controller")
	}
	if cfg.Kubernetes.VIFPoolDriver == config.PoolDriverNeutron {
		pools := NewPools(mgr, cfg, osc, net, log)
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
		OpenStack:    osc,
		ClusterID:    cfg.Kubernetes.ClusterID,
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
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("neutron", neutronCheck(osc, net.Subnet.ID))
}

// NewPools builds the neutron pool driver from [vif_pool]; it runs on the leader only.
func NewPools(mgr ctrl.Manager, cfg *config.Config, osc openstack.Client, net *podport.PodNetwork, log logr.Logger) *pool.Manager {
	vp := cfg.VIFPool
	o := pool.Options{
		OpenStack:    osc,
		Reader:       mgr.GetClient(),
		WaitForCache: mgr.GetCache().WaitForCacheSync,
		Spec: pool.Spec{
			ClusterID:    cfg.Kubernetes.ClusterID,
			ResourceTags: cfg.NeutronDefaults.ResourceTags,
			Subnets:      map[string][]string{net.Network.ID: {net.Subnet.ID}},
		},
		Min: vp.PortsPoolMin, Max: vp.PortsPoolMax, Batch: vp.PortsPoolBatch,
		SyncPeriod:  vp.PortsPoolUpdateFrequency,
		QuotaRetry:  cfg.Controller.QuotaRetryInterval,
		QuietPeriod: 2 * time.Second, LongQuietPeriod: 10 * time.Second, MaxDefer: 30 * time.Second,
		Log: log.WithName("pool"),
	}
	if vp.PortsPoolPreplug {
		o.Writer = mgr.GetClient()
		subnets := map[string]*openstack.Subnet{net.Subnet.ID: net.Subnet}
		vifOpts := vifOptions(cfg)
		o.VIFOf = func(p *openstack.Port) (apiv1.VIF, bool) {
			if p.NetworkID != net.Network.ID {
				return apiv1.VIF{}, false
			}
			return vif.FromPort(p, net.Network, subnets, vifOpts), true
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
		if err := c.Delete(ctx, &list.Items[i]); client.IgnoreNotFound(err) != nil {
			log.Error(err, "Deleting a KuryrPortPool of an earlier configuration failed", "node", list.Items[i].Name)
		}
	}
	if len(list.Items) > 0 {
		log.Info("Deleted the KuryrPortPools of an earlier configuration", "count", len(list.Items))
	}
}

// neutronCheck reports ready while the pod subnet can be read, asking Neutron at most every
// 15 seconds.
func neutronCheck(osc openstack.Client, subnetID string) healthz.Checker {
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
		_, err := osc.GetSubnet(ctx, subnetID)
		if err != nil && !errors.Is(err, context.Canceled) {
			err = fmt.Errorf("neutron: %w", err)
		}
		last, lastErr = time.Now(), err
		return err
	}
}
