// Command kuryr-controller gives every Kubernetes pod a Neutron port and records it in the
// pod's KuryrPort, for the node daemon to plug.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/controller/app"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		// One line, naming the option when it is a configuration problem.
		fmt.Fprintln(os.Stderr, "kuryr-controller:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	var (
		configPath string
		opts       app.Options
		zapOpts    = zap.Options{}
	)
	cmd := &cobra.Command{
		Use:           "kuryr-controller",
		Short:         "Give every Kubernetes pod a Neutron port",
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(*cobra.Command, []string) error {
			log := zap.New(zap.UseFlagOptions(&zapOpts))
			ctrl.SetLogger(log)
			cfg, warnings, err := config.Load(configPath)
			if err != nil {
				return err
			}
			for _, w := range warnings {
				log.Info(w)
			}
			if opts.LeaderElectionNamespace == "" {
				opts.LeaderElectionNamespace = os.Getenv("POD_NAMESPACE")
			}
			if opts.LeaderElect && opts.LeaderElectionNamespace == "" {
				opts.LeaderElectionNamespace = "kube-system"
			}
			return app.Run(ctrl.SetupSignalHandler(), cfg, opts, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "/etc/kuryr/kuryr.conf", "path of kuryr.conf")
	f.StringVar(&opts.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: [kubernetes] kubeconfig, $KUBECONFIG, api_root, in-cluster)")
	f.BoolVar(&opts.LeaderElect, "leader-elect", true, "elect a leader with a Lease so only one replica works at a time (false: only ever run one)")
	f.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader-election Lease (default: $POD_NAMESPACE, else kube-system)")
	f.StringVar(&opts.LeaderElectionID, "leader-election-id", "kuryr-controller", "name of the leader-election Lease")
	f.StringVar(&opts.MetricsAddr, "metrics-bind-address", "", "metrics address (default: [prometheus_exporter] controller_exporter_port; 0 disables)")
	f.StringVar(&opts.HealthAddr, "health-probe-bind-address", "", "/alive and /ready address (default: [health_server] port; 0 disables)")
	f.Float32Var(&opts.KubeQPS, "kube-api-qps", app.DefaultKubeQPS, "Kubernetes API requests per second (per resource type)")
	f.IntVar(&opts.KubeBurst, "kube-api-burst", app.DefaultKubeBurst, "Kubernetes API burst (per resource type)")
	f.StringSliceVar(&opts.Namespaces, "watch-namespace", nil, "only handle pods of these namespaces (default: all; give such a controller its own cluster_id)")
	f.DurationVar(&opts.StartupTimeout, "startup-timeout", time.Minute, "how long to wait for OpenStack at start-up")
	gofs := flag.NewFlagSet("zap", flag.ExitOnError)
	zapOpts.BindFlags(gofs)
	f.AddGoFlagSet(gofs)
	return cmd
}
