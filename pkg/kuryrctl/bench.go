package kuryrctl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/spf13/cobra"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/bench"
	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/kubeclient"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks: pod bursts, the raw Neutron create rate, and a report with plots",
		Long: "Each subcommand writes one JSON result; `bench report` reads a directory of them, prints a\n" +
			"table with ratios to the references and writes latency-cdf.png, delete-cdf.png and timeline.png.\n" +
			"`make bench` runs the whole sequence on the testbed.",
	}
	cmd.AddCommand(newBenchPodsCmd(g), newBenchNeutronCmd(g), newBenchWiredCmd(g), newBenchPlugCmd(), newBenchReportCmd())
	return cmd
}

func newBenchPodsCmd(g *globals) *cobra.Command {
	var (
		opts       bench.BurstOptions
		out        string
		kubeconfig string
		pidFiles   []string
		metricsURL string
		daemonURL  string
		cniTimes   string
	)
	cmd := &cobra.Command{
		Use:   "pods",
		Short: "Create a burst of pods, wait until all are Ready, delete them at once and time until they are gone and their ports released",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log := funcr.New(func(p, a string) { fmt.Fprintln(os.Stderr, p, a) }, funcr.Options{})
			cfg, _, err := config.Load(g.configFile)
			if err != nil {
				return err
			}
			c, err := kubeClient(kubeconfig, cfg)
			if err != nil {
				return err
			}
			if opts.Mode != "bridge" {
				_, oc, err := g.load(ctx)
				if err != nil {
					return err
				}
				opts.Neutron, opts.ProjectID = oc, cfg.NeutronDefaults.Project
			}
			if daemonURL != "" {
				opts.CNIEvents = func(ctx context.Context) (map[string]bench.CNIAdd, error) {
					return bench.FetchCNIEvents(ctx, daemonURL)
				}
			}
			if cniTimes != "" {
				opts.CNIEvents = func(context.Context) (map[string]bench.CNIAdd, error) { return bench.ReadCNITimes(cniTimes) }
			}
			var before map[string]float64
			if metricsURL != "" {
				before, _ = bench.ScrapeCounter(ctx, metricsURL, "kuryr_openstack_api_calls_total", "operation", "result")
			}
			procsBefore := usage(pidFiles)
			res, runErr := bench.RunBurst(ctx, log, c, opts)
			if res == nil {
				return runErr
			}
			if metricsURL != "" {
				after, err := bench.ScrapeCounter(ctx, metricsURL, "kuryr_openstack_api_calls_total", "operation", "result")
				if err == nil {
					res.NeutronCalls = bench.Diff(before, after)
				}
			}
			for i, p := range usage(pidFiles) {
				if i < len(procsBefore) && procsBefore[i].PID == p.PID {
					p.CPUSeconds -= procsBefore[i].CPUSeconds
				}
				res.Processes = append(res.Processes, p)
			}
			if err := bench.WriteJSON(out, res); err != nil {
				return err
			}
			ports := ""
			if res.PortsLeft != nil {
				ports = fmt.Sprintf(", %d ports left", *res.PortsLeft)
			}
			if res.PortsReleasedLast != nil {
				ports = fmt.Sprintf(", %d ports released in %.2fs%s", res.Ports, *res.PortsReleasedLast, ports)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d pods, all Ready in %.2fs (%.2f pods/s), pods gone p50 %.2fs p99 %.2fs last %.2fs%s -> %s\n",
				res.Mode, res.Pods, res.AllReady, res.PodsPerSecond, res.DeleteP50, res.DeleteP99, res.DeleteLast, ports, out)
			if runErr != nil {
				return runErr
			}
			if res.PortsLeft != nil && *res.PortsLeft != 0 {
				return fmt.Errorf("%d Neutron ports of the burst were not released", *res.PortsLeft)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Mode, "mode", "kuryr", "label of this run: kuryr, kuryr-pools or bridge (bridge: no Neutron checks)")
	f.IntVar(&opts.Pods, "pods", 50, "pods in the burst")
	f.StringVar(&opts.Namespace, "namespace", "kuryr-bench", "namespace of the burst")
	f.StringVar(&opts.Image, "image", "localhost/kuryr-testbed/busybox:1", "pod image (must be on the node: pull policy Never)")
	f.StringVar(&opts.NodeName, "node", "", "bind the pods to this node (default: the scheduler places them)")
	f.IntVar(&opts.Parallel, "parallel", 10, "concurrent create requests")
	f.DurationVar(&opts.ReadyTimeout, "ready-timeout", 10*time.Minute, "how long to wait for all pods to be Ready")
	f.DurationVar(&opts.GoneTimeout, "gone-timeout", 5*time.Minute, "how long to wait for the pods and KuryrPorts to be gone after the delete")
	f.DurationVar(&opts.ReleaseTimeout, "release-timeout", 2*time.Minute,
		"how long to wait after the delete for the burst's Neutron ports to be released (deleted, or back in their pool); any left fails the run")
	f.StringVar(&out, "out", "burst.json", "result file")
	f.StringVar(&kubeconfig, "kubeconfig", "", kubeconfigUsage)
	f.StringSliceVar(&pidFiles, "process", nil, "NAME=PIDFILE of a process whose CPU and peak RSS to report (repeatable)")
	f.StringVar(&metricsURL, "controller-metrics", "", "controller /metrics URL, to count Neutron API calls")
	f.StringVar(&daemonURL, "daemon-events", "", "node daemon CNI events URL, for the CNI ADD stage")
	f.StringVar(&cniTimes, "cni-times", "", "file a timing wrapper around another CNI plugin appends its ADD times to (the bridge floor)")
	return cmd
}

func newBenchNeutronCmd(g *globals) *cobra.Command {
	var (
		opts bench.NeutronOptions
		out  string
	)
	cmd := &cobra.Command{
		Use:   "neutron",
		Short: "Measure the raw Neutron port-create rate with a bare client loop",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			_, oc, err := g.loadPortTarget(ctx, &opts.PortTarget)
			if err != nil {
				return err
			}
			res, err := bench.RunNeutron(ctx, oc, opts)
			if err != nil {
				return err
			}
			if err := bench.WriteJSON(out, res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "neutron: %d creates, %d in flight, %.2f/s -> %s\n", res.Ports, res.Concurrency, res.PerSecond, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Ports, "ports", 30, "ports to create")
	f.IntVar(&opts.Concurrency, "concurrency", 4, "creates in flight")
	f.IntVar(&opts.BulkPorts, "bulk", 10, "also time one bulk POST of this many ports (0: skip)")
	f.StringVar(&opts.HostID, "host", "", "binding:host_id of the ports (a node with a live agent)")
	f.StringVar(&out, "out", "neutron.json", "result file")
	return cmd
}

// loadPortTarget loads the configuration and fills t with the pod network, subnet, project
// and security groups of [neutron_defaults] (the host comes from a flag).
func (g *globals) loadPortTarget(ctx context.Context, t *bench.PortTarget) (*config.Config, neutron.Client, error) {
	cfg, oc, err := g.load(ctx)
	if err != nil {
		return nil, nil, err
	}
	sn, err := oc.GetSubnet(ctx, cfg.NeutronDefaults.PodSubnet)
	if err != nil {
		return nil, nil, fmt.Errorf("getting the pod subnet: %w", err)
	}
	t.NetworkID, t.SubnetID, t.ProjectID = sn.NetworkID, sn.ID, cfg.NeutronDefaults.Project
	t.SGs = cfg.NeutronDefaults.PodSecurityGroups
	return cfg, oc, nil
}

func newBenchWiredCmd(g *globals) *cobra.Command {
	var (
		opts bench.WiredOptions
		out  string
	)
	cmd := &cobra.Command{
		Use:   "wired",
		Short: "Measure Neutron creates each followed by the local plug and the OVS agent's wiring, with a bare loop (run on a node, as root)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, oc, err := g.loadPortTarget(ctx, &opts.PortTarget)
			if err != nil {
				return err
			}
			opts.Bridge = cfg.NeutronDefaults.OVSBridge
			res, err := bench.RunWired(ctx, oc, opts)
			if err != nil {
				return err
			}
			if err := bench.WriteJSON(out, res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wired: %d ports created, plugged and wired, %d in flight, %.2f/s -> %s\n",
				res.Ports, res.Concurrency, res.PerSecond, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Ports, "ports", 30, "ports to create, plug and wait for")
	f.IntVar(&opts.Concurrency, "concurrency", 16, "ports in flight")
	f.StringVar(&opts.HostID, "host", "", "binding:host_id of the ports: this node")
	f.StringVar(&out, "out", "wired.json", "result file")
	return cmd
}

func newBenchPlugCmd() *cobra.Command {
	var (
		opts bench.PlugOptions
		out  string
	)
	cmd := &cobra.Command{
		Use:   "plug",
		Short: "Measure the local plug alone: veth, OVS add-port and netns configuration (run on a node, as root)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := bench.RunPlug(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if err := bench.WriteJSON(out, res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "plug: %d plugs, p50 %.3fs p99 %.3fs; unplug p50 %.3fs -> %s\n",
				res.Count, res.Latency.P50, res.Latency.P99, res.Unplug.P50, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Count, "count", 20, "plugs to time")
	f.StringVar(&opts.Bridge, "bridge", "br-int", "OVS bridge")
	f.StringVar(&out, "out", "plug.json", "result file")
	return cmd
}

func newBenchReportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report DIR",
		Short: "Print the table and write the plots and summary.json (ratios, delete phase, checks) for the results in DIR",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := bench.LoadDir(args[0])
			if err != nil {
				return err
			}
			r.PrintTable(cmd.OutOrStdout())
			if err := r.Plot(args[0]); err != nil {
				return err
			}
			summary := map[string]any{"results": r, "ratios": r.Ratios(), "delete": r.DeleteSummaries(), "checks": r.Checks()}
			return bench.WriteJSON(filepath.Join(args[0], "summary.json"), summary)
		},
	}
}

// kubeconfigUsage is the help of the --kubeconfig flags.
const kubeconfigUsage = "kubeconfig (default: [kubernetes] kubeconfig, $KUBECONFIG, [kubernetes] api_root, else in-cluster)"

// kubeClient is a client of the cluster's API server: the kubeconfig flag, else as the
// controller finds it from kuryr.conf.
func kubeClient(kubeconfig string, cfg *config.Config) (client.WithWatch, error) {
	rc, err := kubeclient.RestConfig(kubeconfig, cfg.Kubernetes)
	if err != nil {
		return nil, fmt.Errorf("loading the Kubernetes client configuration: %w", err)
	}
	if rc.Insecure {
		fmt.Fprintln(os.Stderr, "warning:", kubeclient.InsecureWarning)
	}
	rc.QPS, rc.Burst = 100, 200
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := apiv1.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return nil, err
	}
	return client.NewWithWatch(rc, client.Options{Scheme: s})
}

func usage(pidFiles []string) []bench.Process {
	var out []bench.Process
	for _, nf := range pidFiles {
		name, file, ok := strings.Cut(nf, "=")
		if !ok {
			continue
		}
		pid, err := bench.PIDFromFile(file)
		if err != nil {
			continue
		}
		if p, err := bench.ProcessUsage(name, pid); err == nil {
			out = append(out, p)
		}
	}
	return out
}
