// Package kuryrctl implements the kuryrctl command line.
package kuryrctl

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"

	"github.com/spf13/cobra"

	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/controller/app"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/clients"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// globals are the flags every subcommand shares.
type globals struct {
	configFile string
	timeout    time.Duration
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
	cs, err := clients.Connect(ctx, cfg.Neutron)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to Neutron (%s): %w", clients.Describe(cfg.Neutron), err)
	}
	return cfg, cs.Neutron, nil
}

// clusterID is the configured [kubernetes] cluster_id, or the one the controller derives
// from the cluster when it is not set.
func (g *globals) clusterID(ctx context.Context, cfg *config.Config) (string, error) {
	if cfg.Kubernetes.ClusterID != "" {
		return cfg.Kubernetes.ClusterID, nil
	}
	c, err := kubeClient("", cfg)
	if err != nil {
		return "", err
	}
	return app.ClusterID(ctx, c, "", logr.Discard())
}

func (g *globals) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), g.timeout)
}
