package kuryrctl

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/controller/pool"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

func newPoolsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pools",
		Short: "Port pools ([kubernetes] vif_pool_driver = neutron): list, prefill, drain",
		Long: "Pool ports are Neutron ports tagged with the cluster tag and " + ownership.PoolTag + ".\n" +
			"A running controller with pools enabled takes in ports created here at its next pool sync\n" +
			"([vif_pool] ports_pool_update_frequency).",
	}
	cmd.AddCommand(newPoolsListCmd(g), newPoolsPrefillCmd(g), newPoolsDrainCmd(g))
	g.addClusterIDFlag(cmd.PersistentFlags())
	return cmd
}

// poolView is what the pools commands work on: the configuration, Neutron, the cluster ID
// and the cluster's pool ports.
type poolView struct {
	cfg       *config.Config
	neutron   neutron.Client
	clusterID string
	ports     []neutron.Port
}

// poolPorts lists the cluster's pool ports in Neutron: those of the configured project on
// the pod subnet's network, the only ones a controller takes into its pools.
func (g *globals) poolPorts(ctx context.Context) (*poolView, error) {
	cfg, oc, clusterID, err := g.loadCluster(ctx)
	if err != nil {
		return nil, err
	}
	sn, err := podSubnet(ctx, oc, cfg)
	if err != nil {
		return nil, err
	}
	ports, err := oc.ListPorts(ctx, neutron.PortFilter{
		Tags:        []string{ownership.ClusterTag(clusterID), ownership.PoolTag},
		DeviceOwner: neutron.DeviceOwnerKuryr,
		NetworkID:   sn.NetworkID,
		ProjectID:   cfg.NeutronDefaults.Project,
	})
	if err != nil {
		return nil, fmt.Errorf("listing pool ports: %w", err)
	}
	return &poolView{cfg: cfg, neutron: oc, clusterID: clusterID, ports: ports}, nil
}

// podSubnet reads the configured pod subnet ([neutron_defaults] pod_subnet).
func podSubnet(ctx context.Context, oc neutron.Client, cfg *config.Config) (*neutron.Subnet, error) {
	sn, err := oc.GetSubnet(ctx, cfg.NeutronDefaults.PodSubnet)
	if err != nil {
		return nil, fmt.Errorf("getting the pod subnet %s: %w", cfg.NeutronDefaults.PodSubnet, err)
	}
	return sn, nil
}

func newPoolsListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the pools from Neutron: free (bound, possibly plugged ahead) and other pool-tagged ports per node, network and SG set",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.context(cmd)
			defer cancel()
			v, err := g.poolPorts(ctx)
			if err != nil {
				return err
			}
			ports, clusterID := v.ports, v.clusterID
			type counts struct{ free, active, other int }
			byKey := map[pool.Key]*counts{}
			for i := range ports {
				k := pool.KeyOf(&ports[i])
				c := byKey[k]
				if c == nil {
					c = &counts{}
					byKey[k] = c
				}
				if pool.IsFreePoolPort(&ports[i], clusterID) {
					c.free++
					if ports[i].Status == neutron.PortStatusActive {
						c.active++ // plugged ahead by its node
					}
				} else {
					c.other++ // not bound to a node
				}
			}
			keys := make([]pool.Key, 0, len(byKey))
			for k := range byKey {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool {
				a, b := keys[i], keys[j]
				if a.Node != b.Node {
					return a.Node < b.Node
				}
				if a.NetworkID != b.NetworkID {
					return a.NetworkID < b.NetworkID
				}
				return a.SGs < b.SGs
			})
			rows := [][]string{{"node", "project", "network", "security_groups", "free", "active", "not_free"}}
			for _, k := range keys {
				c := byKey[k]
				rows = append(rows, []string{k.Node, k.ProjectID, k.NetworkID, k.SGs, strconv.Itoa(c.free),
					strconv.Itoa(c.active), strconv.Itoa(c.other)})
			}
			printTable(cmd.OutOrStdout(), rows)
			return nil
		},
	}
}

func newPoolsPrefillCmd(g *globals) *cobra.Command {
	var count, batch int
	var waitActive time.Duration
	cmd := &cobra.Command{
		Use:   "prefill NODE",
		Short: "Create free pool ports for NODE with the configured project, pod subnet and security groups",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.context(cmd)
			defer cancel()
			cfg, oc, clusterID, err := g.loadCluster(ctx)
			if err != nil {
				return err
			}
			if count <= 0 {
				count = cfg.VIFPool.PortsPoolMin
			}
			if batch <= 0 {
				batch = cfg.VIFPool.PortsPoolBatch
			}
			nd := cfg.NeutronDefaults
			sn, err := podSubnet(ctx, oc, cfg)
			if err != nil {
				return err
			}
			key := pool.NewKey(args[0], nd.Project, sn.NetworkID, nd.PodSecurityGroups)
			spec := pool.Spec{ClusterID: clusterID, ResourceTags: nd.ResourceTags, ProjectID: nd.Project,
				Subnets: map[string][]string{sn.NetworkID: {sn.ID}}}
			created := 0
			var ids []string
			for created < count {
				n := min(batch, count-created)
				ports, err := oc.CreatePorts(ctx, spec.PoolPortOpts(key, n))
				if err != nil {
					return fmt.Errorf("creating pool ports for %s (%d of %d done): %w", args[0], created, count, err)
				}
				created += len(ports)
				for i := range ports {
					ids = append(ids, ports[i].ID)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %d free pool ports for %s (network %s)\n", created, args[0], sn.NetworkID)
			if waitActive <= 0 {
				return nil
			}
			start := time.Now()
			if err := waitPortsActive(ctx, oc, ids, waitActive); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "all %d ports ACTIVE (plugged ahead by the node) after %s\n", len(ids), time.Since(start).Round(100*time.Millisecond))
			return nil
		},
	}
	cmd.Flags().IntVar(&count, "count", 0, "ports to create (default [vif_pool] ports_pool_min)")
	cmd.Flags().IntVar(&batch, "batch", 0, "ports per bulk request (default [vif_pool] ports_pool_batch)")
	cmd.Flags().DurationVar(&waitActive, "wait-active", 0,
		"then wait this long for the node to plug them ahead (all ACTIVE; needs [vif_pool] ports_pool_preplug)")
	return cmd
}

// waitPortsActive polls Neutron until every port of ids is ACTIVE.
func waitPortsActive(ctx context.Context, oc neutron.Client, ids []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		active := 0
		for chunk := range slices.Chunk(ids, 100) {
			ports, err := oc.ListPorts(ctx, neutron.PortFilter{IDs: chunk, Status: neutron.PortStatusActive})
			if err != nil {
				return fmt.Errorf("listing the new pool ports: %w", err)
			}
			active += len(ports)
		}
		if active >= len(ids) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d pool ports ACTIVE after %s: is the controller running with ports_pool_preplug and the node daemon with park_pool_ports?",
				active, len(ids), timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func newPoolsDrainCmd(g *globals) *cobra.Command {
	var (
		anyStatus  bool
		kubeconfig string
	)
	cmd := &cobra.Command{
		Use:   "drain [NODE]",
		Short: "Delete the free pool ports (of NODE, or of every node): after turning pools off, or to clean up",
		Long: "Ports bound to pods carry no pool tag and are never touched. A pod that has just taken a\n" +
			"port from a pool has it recorded in its KuryrPort at once, but the port keeps the pool tag\n" +
			"until the controller gives it the pod's name: drain skips every port a KuryrPort records\n" +
			"and says how many. A port a running controller hands out after the KuryrPorts were read\n" +
			"can still be deleted under its pod: turn pools off first ([kubernetes] vif_pool_driver = noop).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.context(cmd)
			defer cancel()
			v, err := g.poolPorts(ctx)
			if err != nil {
				return err
			}
			// Read after the Neutron list, so that a port a pod took while it ran is seen
			// as recorded too.
			c, err := kubeClient(kubeconfig, v.cfg)
			if err != nil {
				return err
			}
			var kps apiv1.KuryrPortList
			if err := c.List(ctx, &kps); err != nil {
				return fmt.Errorf("listing KuryrPorts (the ports pods have taken): %w", err)
			}
			node := ""
			if len(args) == 1 {
				node = args[0]
			}
			doomed, skipped := drainSelection(v.ports, kps.Items, v.clusterID, node, anyStatus)
			w := cmd.OutOrStdout()
			if skipped > 0 {
				fmt.Fprintf(w, "skipped %d pool ports recorded in KuryrPorts (taken by pods)\n", skipped)
			}
			deleted := 0
			for _, p := range doomed {
				if err := v.neutron.DeletePort(ctx, p.ID); err != nil {
					return fmt.Errorf("deleting pool port %s (%d deleted): %w", p.ID, deleted, err)
				}
				deleted++
			}
			fmt.Fprintf(w, "deleted %d free pool ports\n", deleted)
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&anyStatus, "any-status", false, "also delete pool-tagged ports that are not bound to a node")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig (default [kubernetes] kubeconfig, then $KUBECONFIG)")
	return cmd
}

// drainSelection returns the pool ports drain deletes: the free ones (with anyStatus, every
// pool-tagged one) of node, or of every node when node is empty, that no KuryrPort records;
// skipped counts those left because a KuryrPort records them.
func drainSelection(ports []neutron.Port, kps []apiv1.KuryrPort, clusterID, node string, anyStatus bool) (doomed []neutron.Port, skipped int) {
	recorded := map[string]bool{}
	for i := range kps {
		for _, id := range kps[i].PortIDs() {
			recorded[id] = true
		}
	}
	for i := range ports {
		p := &ports[i]
		if (!anyStatus && !pool.IsFreePoolPort(p, clusterID)) || (node != "" && p.HostID != node) {
			continue
		}
		if recorded[p.ID] {
			skipped++
			continue
		}
		doomed = append(doomed, *p)
	}
	return doomed, skipped
}
