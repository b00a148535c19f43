// Package app wires the kuryr controller: configuration, OpenStack connection, start-up
// validation, the cluster ID, the controller-runtime manager (leader election, probes,
// metrics) and the controllers of the registry that [kubernetes] enabled_handlers picks.
package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/kubeclient"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/clients"
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

// Run builds the manager with cfg and runs it until ctx ends.
func Run(ctx context.Context, cfg *config.Config, opts Options, log logr.Logger) error {
	controllers, err := Enabled(cfg.Kubernetes.EnabledHandlers, log)
	if err != nil {
		return err
	}
	if len(opts.Namespaces) > 0 && cfg.Kubernetes.ClusterID == "" {
		return errors.New("--watch-namespace needs an explicit [kubernetes] cluster_id: controllers that watch " +
			"parts of one cluster must not share the cluster's ID, or their orphan sweeps delete each other's ports")
	}
	osc, err := Prepare(ctx, cfg, opts.StartupTimeout, log)
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
	clusterID, err := ClusterID(ctx, mgr.GetAPIReader(), cfg.Kubernetes.ClusterID, log)
	if err != nil {
		return err
	}
	deps := Deps{Manager: mgr, Config: cfg, Options: opts, OpenStack: osc, ClusterID: clusterID, Log: log}
	if err := Setup(deps, controllers); err != nil {
		return err
	}
	t := osc.Networks.Targets()[0]
	log.Info("Starting kuryr controller", "openstack", clients.Describe(cfg.Neutron),
		"podSubnets", t.SubnetIDs(), "podNetwork", t.Network.ID, "clusterID", clusterID,
		"controllers", names(controllers), "workers", cfg.Controller.Workers, "leaderElect", opts.LeaderElect,
		"vifPoolDriver", cfg.Kubernetes.VIFPoolDriver)
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
