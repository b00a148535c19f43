package kuryrctl

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

func newStatusCmd(g *globals) *cobra.Command {
	var (
		kubeconfig string
		endpoints  []string
		all        bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Health of the controller and daemons, KuryrPorts by state, and the cluster's Neutron ports",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.context(cmd)
			defer cancel()
			cfg, _, err := config.Load(g.configFile)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			healthy := checkEndpoints(ctx, w, endpoints)
			c, err := kubeClient(kubeconfig, cfg)
			if err != nil {
				return err
			}
			var kps apiv1.KuryrPortList
			if err := c.List(ctx, &kps); err != nil {
				return fmt.Errorf("listing KuryrPorts: %w", err)
			}
			notReady := printKuryrPorts(w, kps.Items, all)
			clusterID, err := g.clusterID(ctx, cfg)
			if err != nil {
				return err
			}
			_, oc, err := g.load(ctx)
			if err != nil {
				return err
			}
			ports, err := oc.ListPorts(ctx, neutron.PortFilter{Tags: []string{ownership.ClusterTag(clusterID)}})
			if err != nil {
				return fmt.Errorf("listing the cluster's Neutron ports: %w", err)
			}
			byStatus := map[string]int{}
			for _, p := range ports {
				byStatus[p.Status]++
			}
			fmt.Fprintf(w, "\nNeutron ports tagged %s: %d %s\n", ownership.ClusterTag(clusterID), len(ports), counts(byStatus))
			if !healthy || notReady > 0 {
				return fmt.Errorf("%d KuryrPorts not Ready, components healthy: %v", notReady, healthy)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", kubeconfigUsage)
	f.StringSliceVar(&endpoints, "endpoint", []string{"controller=http://127.0.0.1:8082/ready", "daemon=http://127.0.0.1:8090/ready"},
		"NAME=URL of a readiness endpoint to check (repeatable)")
	f.BoolVar(&all, "all", false, "list every KuryrPort, not only those that are not Ready")
	g.addClusterIDFlag(f)
	return cmd
}

// checkEndpoints prints the readiness of each NAME=URL and reports whether all are ready.
func checkEndpoints(ctx context.Context, w io.Writer, endpoints []string) bool {
	ok := true
	for _, e := range endpoints {
		name, url, found := strings.Cut(e, "=")
		if !found {
			continue
		}
		state := "ready"
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, url, http.NoBody)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		switch {
		case err != nil:
			state, ok = "unreachable: "+err.Error(), false
		case resp.StatusCode != http.StatusOK:
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			state, ok = fmt.Sprintf("NOT ready (HTTP %d): %s", resp.StatusCode, strings.TrimSpace(string(body))), false
		}
		if resp != nil {
			resp.Body.Close()
		}
		fmt.Fprintf(w, "%-12s %s\n", name, state)
	}
	return ok
}

// printKuryrPorts prints counts by node and readiness, then the KuryrPorts that are not Ready
// (or all), and returns how many are not Ready.
func printKuryrPorts(w io.Writer, kps []apiv1.KuryrPort, all bool) int {
	sort.Slice(kps, func(i, j int) bool {
		return client.ObjectKeyFromObject(&kps[i]).String() < client.ObjectKeyFromObject(&kps[j]).String()
	})
	perNode := map[string]int{}
	notReady := 0
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	header := false
	for i := range kps {
		kp := &kps[i]
		perNode[kp.Spec.PodNodeName]++
		cond := meta.FindStatusCondition(kp.Status.Conditions, apiv1.ConditionReady)
		ready := cond != nil && cond.Status == "True"
		if !ready {
			notReady++
		}
		if !ready || all {
			if !header {
				fmt.Fprintln(tw, "\nNAMESPACE\tNAME\tNODE\tPORT\tIP\tACTIVE\tREADY\tREASON\tMESSAGE")
				header = true
			}
			port, ip, active := "-", "-", false
			if v, ok := kp.Status.VIFs["eth0"]; ok {
				port, active = v.VIF.ID, v.VIF.Active
				if a, _, ok := v.VIF.DefaultIP(); ok {
					ip = a
				}
			}
			reason, msg := "-", ""
			if cond != nil {
				reason, msg = cond.Reason, cond.Message
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%v\t%s\t%s\n", kp.Namespace, kp.Name, kp.Spec.PodNodeName, port, ip, active, ready, reason, msg)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nKuryrPorts: %d (%d not Ready) %s\n", len(kps), notReady, counts(perNode))
	return notReady
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	if len(parts) == 0 {
		return ""
	}
	return "(" + strings.Join(parts, " ") + ")"
}
