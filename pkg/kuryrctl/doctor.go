package kuryrctl

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/clients"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// check is one diagnosis: a name and what went wrong (nil when fine).
type check struct {
	name string
	run  func(ctx context.Context) (string, error)
}

func newDoctorCmd(g *globals) *cobra.Command {
	var (
		kubeconfig string
		endpoints  []string
		ovs        bool
	)
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the configuration, Neutron, Kubernetes, the CRDs, OVS and the components, and say what is wrong",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := g.context(cmd)
			defer cancel()
			w := cmd.OutOrStdout()
			cfg, warnings, err := config.Load(g.configFile)
			if err != nil {
				fmt.Fprintf(w, "FAIL  configuration: %v\n", err)
				return fmt.Errorf("the configuration is invalid")
			}
			fmt.Fprintf(w, "ok    configuration %s\n", g.configFile)
			for _, warn := range warnings {
				fmt.Fprintf(w, "warn  %s\n", warn)
			}
			var oc neutron.Client
			checks := []check{
				{"Neutron reachable (" + clients.Describe(cfg.Neutron) + ")", func(ctx context.Context) (string, error) {
					cs, err := clients.Connect(ctx, cfg.Neutron)
					if err == nil {
						oc = cs.Neutron
					}
					return "", err
				}},
				{"pod subnet " + cfg.NeutronDefaults.PodSubnet, func(ctx context.Context) (string, error) {
					sn, err := oc.GetSubnet(ctx, cfg.NeutronDefaults.PodSubnet)
					if err != nil {
						return "", err
					}
					return sn.CIDR + ", network " + sn.NetworkID, nil
				}},
				{"pod security groups", func(ctx context.Context) (string, error) {
					var names []string
					for _, id := range cfg.NeutronDefaults.PodSecurityGroups {
						sg, err := oc.GetSecurityGroup(ctx, id)
						if err != nil {
							return "", fmt.Errorf("security group %s: %w", id, err)
						}
						names = append(names, sg.Name)
					}
					return strings.Join(names, ", "), nil
				}},
				{"Kubernetes API and the KuryrPort CRD", func(ctx context.Context) (string, error) {
					c, err := kubeClient(kubeconfig, cfg)
					if err != nil {
						return "", err
					}
					return crdInstalled(ctx, c, "kuryrports.openstack.org")
				}},
			}
			if ovs {
				checks = append(checks, check{"OVS bridge " + cfg.NeutronDefaults.OVSBridge, func(ctx context.Context) (string, error) {
					out, err := exec.CommandContext(ctx, "ovs-vsctl", "--timeout=5", "br-exists", cfg.NeutronDefaults.OVSBridge).CombinedOutput()
					if err != nil {
						return "", fmt.Errorf("ovs-vsctl br-exists: %w %s", err, strings.TrimSpace(string(out)))
					}
					return "present", nil
				}})
			}
			failed := runChecks(ctx, w, checks)
			if !checkEndpoints(ctx, w, endpoints) {
				failed++
			}
			if failed > 0 {
				return fmt.Errorf("%d checks failed", failed)
			}
			fmt.Fprintln(w, "all checks passed")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", kubeconfigUsage)
	f.StringSliceVar(&endpoints, "endpoint", []string{"controller=http://127.0.0.1:8082/ready", "daemon=http://127.0.0.1:8090/ready"},
		"NAME=URL of a readiness endpoint to check (repeatable; empty to skip)")
	f.BoolVar(&ovs, "ovs", true, "check the OVS bridge with ovs-vsctl (run on a node)")
	return cmd
}

// runChecks runs the checks in order, stopping at the first failure (later checks need the
// earlier ones), and returns the number of failures.
func runChecks(ctx context.Context, w io.Writer, checks []check) int {
	for _, c := range checks {
		detail, err := c.run(ctx)
		if err != nil {
			fmt.Fprintf(w, "FAIL  %s: %v\n", c.name, err)
			return 1
		}
		if detail != "" {
			detail = ": " + detail
		}
		fmt.Fprintf(w, "ok    %s%s\n", c.name, detail)
	}
	return 0
}

func crdInstalled(ctx context.Context, c client.Client, name string) (string, error) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
		return "", fmt.Errorf("CRD %s: %w (install deploy/crds)", name, err)
	}
	return "CRD " + name + " installed", nil
}
