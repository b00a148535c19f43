// Package kuryrctl implements the kuryrctl command line.
package kuryrctl

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/controller/app"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/clients"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// globals are the flags every subcommand shares.
type globals struct {
	configFile string
	timeout    time.Duration
	// clusterIDFlag is --cluster-id of the commands that look at the cluster's ports.
	clusterIDFlag string
}

// NewRoot returns the kuryrctl command tree.
func NewRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "kuryrctl",
		Short:         "Inspect and repair kuryr-go: pods on Neutron ports",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.PersistentFlags().StringVar(&g.configFile, "config", "/etc/kuryr/kuryr.conf", "kuryr.conf to read")
	root.PersistentFlags().DurationVar(&g.timeout, "timeout", 60*time.Second, "overall deadline")
	root.AddCommand(newStatusCmd(g), newDoctorCmd(g), newPortCmd(g), newRouterCmd(g), newPoolsCmd(g), newGCCmd(g), newBenchCmd(g))
	return root
}

// load reads kuryr.conf and connects to Neutron.
func (g *globals) load(ctx context.Context) (*config.Config, neutron.Client, error) {
	cfg, _, err := config.Load(g.configFile)
	if err != nil {
		return nil, nil, err
	}
	oc, err := connect(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, oc, nil
}

// loadCluster is load for the commands that look at the cluster's ports: it also returns the
// cluster ID, and fails before connecting to Neutron when there is none.
func (g *globals) loadCluster(ctx context.Context) (*config.Config, neutron.Client, string, error) {
	cfg, _, err := config.Load(g.configFile)
	if err != nil {
		return nil, nil, "", err
	}
	id, err := g.clusterID(ctx, cfg)
	if err != nil {
		return nil, nil, "", err
	}
	oc, err := connect(ctx, cfg)
	if err != nil {
		return nil, nil, "", err
	}
	return cfg, oc, id, nil
}

func connect(ctx context.Context, cfg *config.Config) (neutron.Client, error) {
	cs, err := clients.Connect(ctx, cfg.Neutron)
	if err != nil {
		return nil, fmt.Errorf("connecting to Neutron (%s): %w", clients.Describe(cfg.Neutron), err)
	}
	return cs.Neutron, nil
}

func (g *globals) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), g.timeout)
}

// addClusterIDFlag adds --cluster-id to a command that looks at the cluster's Neutron ports.
func (g *globals) addClusterIDFlag(fs *pflag.FlagSet) {
	fs.StringVar(&g.clusterIDFlag, "cluster-id", "", "the cluster ID the ports are tagged with (default: [kubernetes] cluster_id)")
}

// clusterID is --cluster-id, else [kubernetes] cluster_id, else the ID the controller
// derives from the cluster (the UID of its kube-system namespace).
func (g *globals) clusterID(ctx context.Context, cfg *config.Config) (string, error) {
	if g.clusterIDFlag != "" {
		if err := config.ValidateClusterID(g.clusterIDFlag); err != nil {
			return "", fmt.Errorf("--cluster-id %q: %w", g.clusterIDFlag, err)
		}
		return g.clusterIDFlag, nil
	}
	if cfg.Kubernetes.ClusterID != "" {
		return cfg.Kubernetes.ClusterID, nil
	}
	c, err := kubeClient("", cfg)
	if err != nil {
		return "", fmt.Errorf("[kubernetes] cluster_id is not set (pass --cluster-id) and the cluster cannot be asked: %w", err)
	}
	return app.ClusterID(ctx, c, "", logr.Discard())
}
