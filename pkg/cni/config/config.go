// Package config reads the node daemon's settings from kuryr.conf (the [cni_daemon],
// [cni_health_server], [prometheus_exporter], [neutron_defaults] and [kubernetes] sections
// kuryr-kubernetes used) and from command-line flags, which win over the file.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/ini.v1"

	kuryrconf "github.com/kuryr-go/kuryr-go/pkg/config"
)

// Active signals (see package daemon).
var activeSignals = []string{"any", "neutron", "ovs", "none"}

// Config is the daemon configuration.
type Config struct {
	ConfigFile string
	NodeName   string
	// Kubeconfig is --kubeconfig, else [kubernetes] kubeconfig, else $KUBECONFIG.
	Kubeconfig string
	// Kubernetes is the [kubernetes] group: how to reach the API server without a kubeconfig.
	Kubernetes kuryrconf.Kubernetes

	// [cni_daemon]
	SocketPath    string
	VIFTimeout    time.Duration
	ActiveTimeout time.Duration
	ActiveSignal  string
	OVSTimeout    time.Duration
	OVSDB         string
	OVSVsctl      string
	// ParkPoolPorts plugs the node's free pool ports ahead of their pods (the controller
	// publishes them with [vif_pool] ports_pool_preplug).
	ParkPoolPorts bool
	// ParkGrace keeps a parked port that left the pool plugged this long for its pod.
	ParkGrace time.Duration
	// MemoryLimitMiB is the Go runtime's soft memory limit (heap, stacks, runtime), which
	// makes the collector work harder rather than let a burst grow the daemon; 0 disables
	// it, and the GOMEMLIMIT environment variable wins.
	MemoryLimitMiB int

	// [neutron_defaults] ovs_bridge: the bridge whose presence makes the daemon ready, and the
	// only bridge it plugs VIFs into.
	Bridge string

	// [cni_health_server] port and [prometheus_exporter] cni_exporter_port.
	HealthAddr  string
	MetricsAddr string

	// Verbosity of the logs (0 info, 1 debug).
	Verbosity int
}

// Defaults returns kuryr's defaults.
func Defaults() Config {
	return Config{
		SocketPath: "/run/kuryr/daemon.sock", VIFTimeout: 60 * time.Second, ActiveTimeout: 60 * time.Second,
		ActiveSignal: "any", OVSTimeout: 10 * time.Second, OVSVsctl: "ovs-vsctl", Bridge: "br-int",
		HealthAddr: ":8090", MetricsAddr: ":9655", ParkPoolPorts: true, ParkGrace: 30 * time.Second,
		MemoryLimitMiB: 24,
	}
}

// Load parses args (without the program name) and the configuration file they name.
func Load(args []string, getenv func(string) string) (*Config, error) {
	cfg := Defaults()
	fs := flag.NewFlagSet("kuryr-daemon", flag.ContinueOnError)
	fs.StringVar(&cfg.ConfigFile, "config-file", "", "kuryr.conf to read ([cni_daemon], [cni_health_server], [prometheus_exporter], [neutron_defaults])")
	fs.StringVar(&cfg.NodeName, "node-name", "", "this node's name (default: $KUBERNETES_NODE_NAME, else the host name)")
	fs.StringVar(&cfg.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: [kubernetes] kubeconfig, $KUBECONFIG, [kubernetes] api_root, else in-cluster)")
	fs.StringVar(&cfg.SocketPath, "socket", cfg.SocketPath, "unix socket for the CNI plugin ([cni_daemon] daemon_socket)")
	fs.DurationVar(&cfg.VIFTimeout, "vif-timeout", cfg.VIFTimeout, "wait for the pod's VIFs in its KuryrPort ([cni_daemon] vif_annotation_timeout)")
	fs.DurationVar(&cfg.ActiveTimeout, "active-timeout", cfg.ActiveTimeout, "wait for a plugged port to be wired ([cni_daemon] vif_active_timeout)")
	fs.StringVar(&cfg.ActiveSignal, "active-signal", cfg.ActiveSignal, "what ends the active wait: any, neutron, ovs or none ([cni_daemon] vif_active_signal)")
	fs.DurationVar(&cfg.OVSTimeout, "ovs-timeout", cfg.OVSTimeout, "ovs-vsctl --timeout, at least 1s ([cni_daemon] ovs_vsctl_timeout)")
	fs.StringVar(&cfg.OVSDB, "ovsdb", "", "ovs-vsctl --db, empty for its default ([cni_daemon] ovsdb_connection)")
	fs.StringVar(&cfg.OVSVsctl, "ovs-vsctl", cfg.OVSVsctl, "ovs-vsctl binary")
	fs.StringVar(&cfg.Bridge, "bridge", cfg.Bridge, "integration bridge: checked for readiness, the only one VIFs are plugged into ([neutron_defaults] ovs_bridge)")
	fs.StringVar(&cfg.HealthAddr, "health-addr", cfg.HealthAddr, "address of /ready and /alive, empty to disable ([cni_health_server] port, 0 disables)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", cfg.MetricsAddr, "address of /metrics, empty to disable ([prometheus_exporter] cni_exporter_port, 0 disables)")
	fs.BoolVar(&cfg.ParkPoolPorts, "park-pool-ports", cfg.ParkPoolPorts, "plug the node's free pool ports ahead of their pods ([cni_daemon] park_pool_ports)")
	fs.DurationVar(&cfg.ParkGrace, "park-grace", cfg.ParkGrace, "keep a parked port that left the pool this long for its pod ([cni_daemon] park_grace)")
	fs.IntVar(&cfg.MemoryLimitMiB, "memory-limit-mib", cfg.MemoryLimitMiB, "soft limit of the Go runtime's memory, 0 for none; GOMEMLIMIT wins ([cni_daemon] memory_limit_mib)")
	fs.IntVar(&cfg.Verbosity, "v", 0, "log verbosity")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if cfg.ConfigFile != "" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if err := cfg.loadFile(set); err != nil {
			return nil, err
		}
	}
	if cfg.NodeName == "" {
		cfg.NodeName = getenv("KUBERNETES_NODE_NAME")
	}
	if cfg.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("reading the host name: %w", err)
		}
		cfg.NodeName = strings.ToLower(h)
	}
	if cfg.Kubeconfig == "" {
		cfg.Kubeconfig = getenv("KUBECONFIG")
	}
	return &cfg, cfg.Validate()
}

// minimum is the least value a duration setting accepts, and why.
type minimum struct {
	least time.Duration
	why   string
}

var (
	positive = minimum{time.Nanosecond, "must be positive"}
	// ovs-vsctl takes whole seconds, and --timeout=0 makes it wait forever.
	ovsTimeout = minimum{time.Second, "must be at least 1s: ovs-vsctl takes whole seconds and --timeout=0 waits forever"}
)

func (m minimum) check(d time.Duration) error {
	if d < m.least {
		return errors.New(m.why)
	}
	return nil
}

// Validate checks the values.
func (c *Config) Validate() error {
	var errs []error
	if c.MemoryLimitMiB < 0 {
		errs = append(errs, fmt.Errorf("memory limit %d MiB must not be negative", c.MemoryLimitMiB))
	}
	for _, d := range []struct {
		flag  string
		value time.Duration
		least minimum
	}{
		{"vif-timeout", c.VIFTimeout, positive}, {"active-timeout", c.ActiveTimeout, positive},
		{"ovs-timeout", c.OVSTimeout, ovsTimeout}, {"park-grace", c.ParkGrace, positive},
	} {
		if err := d.least.check(d.value); err != nil {
			errs = append(errs, fmt.Errorf("--%s %s: %w", d.flag, d.value, err))
		}
	}
	ok := false
	for _, s := range activeSignals {
		ok = ok || s == c.ActiveSignal
	}
	if !ok {
		errs = append(errs, fmt.Errorf("active signal %q is not one of %v", c.ActiveSignal, activeSignals))
	}
	if !strings.HasPrefix(c.SocketPath, "/") {
		errs = append(errs, fmt.Errorf("socket path %q must be absolute", c.SocketPath))
	}
	return errors.Join(errs...)
}

// loadFile applies the file's options, except those given as flags.
func (c *Config) loadFile(flagSet map[string]bool) error {
	data, err := os.ReadFile(c.ConfigFile)
	if err != nil {
		return fmt.Errorf("reading %s: %w", c.ConfigFile, err)
	}
	f, err := ini.LoadSources(ini.LoadOptions{Loose: false, Insensitive: false, AllowPythonMultilineValues: true}, data)
	if err != nil {
		return fmt.Errorf("reading %s: %w", c.ConfigFile, err)
	}
	if c.Kubernetes, err = kuryrconf.ParseKubernetes(data); err != nil {
		return err
	}
	var errs []error
	// set applies the file's value of [section] key unless the flag was given.
	set := func(flagName, section, key string, apply func(k *ini.Key) error) {
		if flagSet[flagName] || !f.Section(section).HasKey(key) {
			return
		}
		if err := apply(f.Section(section).Key(key)); err != nil {
			errs = append(errs, &kuryrconf.OptionError{Group: section, Option: key, Problem: err.Error()})
		}
	}
	str := func(dst *string) func(*ini.Key) error {
		return func(k *ini.Key) error { *dst = k.String(); return nil }
	}
	secs := func(dst *time.Duration, least minimum) func(*ini.Key) error {
		return func(k *ini.Key) (err error) {
			if *dst, err = kuryrconf.ParseDuration(k.String()); err != nil {
				return err
			}
			return least.check(*dst)
		}
	}
	integer := func(dst *int) func(*ini.Key) error {
		return func(k *ini.Key) (err error) { *dst, err = k.Int(); return err }
	}
	boolean := func(dst *bool) func(*ini.Key) error {
		return func(k *ini.Key) (err error) { *dst, err = k.Bool(); return err }
	}
	// port gives the listen address of a TCP port; 0 disables the server, as in the controller.
	port := func(dst *string) func(*ini.Key) error {
		return func(k *ini.Key) error {
			v, err := k.Int()
			switch {
			case err != nil:
				return fmt.Errorf("%q is not an integer", k.String())
			case v < 0 || v > 65535:
				return fmt.Errorf("%d is not a TCP port (1 to 65535, or 0 to disable)", v)
			case v == 0:
				*dst = ""
			default:
				*dst = fmt.Sprintf(":%d", v)
			}
			return nil
		}
	}
	set("socket", "cni_daemon", "daemon_socket", str(&c.SocketPath))
	set("vif-timeout", "cni_daemon", "vif_annotation_timeout", secs(&c.VIFTimeout, positive))
	set("active-timeout", "cni_daemon", "vif_active_timeout", secs(&c.ActiveTimeout, positive))
	set("active-signal", "cni_daemon", "vif_active_signal", str(&c.ActiveSignal))
	set("ovs-timeout", "cni_daemon", "ovs_vsctl_timeout", secs(&c.OVSTimeout, ovsTimeout))
	set("ovsdb", "cni_daemon", "ovsdb_connection", str(&c.OVSDB))
	set("bridge", "neutron_defaults", "ovs_bridge", str(&c.Bridge))
	set("node-name", "cni_daemon", "node_name", str(&c.NodeName))
	set("kubeconfig", "kubernetes", "kubeconfig", str(&c.Kubeconfig))
	set("park-pool-ports", "cni_daemon", "park_pool_ports", boolean(&c.ParkPoolPorts))
	set("park-grace", "cni_daemon", "park_grace", secs(&c.ParkGrace, positive))
	set("memory-limit-mib", "cni_daemon", "memory_limit_mib", integer(&c.MemoryLimitMiB))
	set("health-addr", "cni_health_server", "port", port(&c.HealthAddr))
	set("metrics-addr", "prometheus_exporter", "cni_exporter_port", port(&c.MetricsAddr))
	return errors.Join(errs...)
}
