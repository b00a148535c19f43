// Package kuryrctl implements the kuryrctl command line.
package kuryrctl

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
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
func (g *globals) load(ctx context.Context) (*config.Config, openstack.Client, error) {
	cfg, _, err := config.Load(g.configFile)
	if err != nil {
		return nil, nil, err
	}
	oc, err := openstack.Connect(ctx, cfg.Neutron)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to Neutron (%s): %w", openstack.Describe(cfg.Neutron), err)
	}
	return cfg, oc, nil
}

func (g *globals) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), g.timeout)
}
