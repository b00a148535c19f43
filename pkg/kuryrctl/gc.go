package kuryrctl

import (
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/kuryr-go/kuryr-go/pkg/controller/podnet"
	"github.com/kuryr-go/kuryr-go/pkg/controller/sweep"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/keystone"
)

func newGCCmd(g *globals) *cobra.Command {
	var (
		kubeconfig string
		grace      time.Duration
		yes        bool
	)
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Find (with --yes: delete) the cluster's Neutron ports no pod or KuryrPort claims",
		Long: "gc runs the controller's orphan sweep once, from here: a port tagged with the cluster ID,\n" +
			"owned by compute:kuryr and older than --grace is an orphan when no live pod and no KuryrPort\n" +
			"has its pod UID; a free pool port is one only when its node is gone. Without --yes it only\n" +
			"lists them. It also lists the KuryrPorts whose recorded port is missing from Neutron (the\n" +
			"controller re-creates those).",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.context(cmd)
			defer cancel()
			cfg, oc, clusterID, err := g.loadCluster(ctx)
			if err != nil {
				return err
			}
			c, err := kubeClient(kubeconfig, cfg)
			if err != nil {
				return err
			}
			nets, err := podnet.ResolveStatic(ctx, oc, keystone.None(), cfg.NeutronDefaults, logr.Discard())
			if err != nil {
				return err
			}
			sw := &sweep.Sweeper{Reader: c, Neutron: oc, ClusterID: clusterID, Networks: nets, Grace: grace,
				DryRun: !yes, Log: logr.Discard()}
			res, err := sw.SweepOnce(ctx)
			w := cmd.OutOrStdout()
			verb := "would delete"
			if yes {
				verb = "deleted"
			}
			rows := [][]string{{"port", "name", "node", "why"}}
			for _, o := range res.Collected {
				rows = append(rows, []string{o.PortID, o.Name, o.Node, o.Reason})
			}
			if len(res.Collected) > 0 {
				printTable(w, rows)
			}
			for _, k := range res.MissingPorts {
				fmt.Fprintf(w, "KuryrPort %s: its port is missing from Neutron (the controller re-creates it)\n", k)
			}
			fmt.Fprintf(w, "%d ports of cluster %s, %d recorded in KuryrPorts; %s %d\n",
				res.Listed, clusterID, res.Referenced, verb, len(res.Collected))
			if err != nil {
				return fmt.Errorf("collecting orphaned ports: %w", err)
			}
			if !yes && len(res.Collected) > 0 {
				fmt.Fprintln(w, "run again with --yes to delete them")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", kubeconfigUsage)
	f.DurationVar(&grace, "grace", 10*time.Minute, "leave ports younger than this alone (their KuryrPort may not be written yet)")
	f.BoolVar(&yes, "yes", false, "delete the orphans (default: only list them)")
	g.addClusterIDFlag(f)
	return cmd
}
