package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAndEnv(t *testing.T) {
	c, err := Load(nil, env(map[string]string{"KUBERNETES_NODE_NAME": "node-a", "KUBECONFIG": "/k"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeName != "node-a" || c.Kubeconfig != "/k" || c.SocketPath != "/run/kuryr/daemon.sock" || c.VIFTimeout != time.Minute ||
		c.ActiveSignal != "any" || c.HealthAddr != ":8090" || c.MetricsAddr != ":9655" || c.Bridge != "br-int" {
		t.Fatalf("%+v", c)
	}
}

func TestFileThenFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kuryr.conf")
	conf := `[DEFAULT]
debug = true
[kubernetes]
api_root = https://127.0.0.1:6443
[neutron_defaults]
ovs_bridge = br-test
[cni_daemon]
daemon_socket = /tmp/k.sock
vif_annotation_timeout = 30
vif_active_timeout = 2.5
vif_active_signal = ovs
[cni_health_server]
port = 18090
[prometheus_exporter]
cni_exporter_port = 19655
controller_exporter_port = 9654
`
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{"--config-file", path, "--active-signal", "neutron", "--node-name", "n"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Bridge != "br-test" || c.SocketPath != "/tmp/k.sock" || c.VIFTimeout != 30*time.Second || c.ActiveTimeout != 2500*time.Millisecond ||
		c.ActiveSignal != "neutron" || c.HealthAddr != ":18090" || c.MetricsAddr != ":19655" || c.NodeName != "n" {
		t.Fatalf("%+v", c)
	}
}

func TestInvalid(t *testing.T) {
	for _, args := range [][]string{
		{"--active-signal", "maybe", "--node-name", "n"},
		{"--vif-timeout", "0s", "--node-name", "n"},
		{"--socket", "rel.sock", "--node-name", "n"},
		{"--config-file", "/nonexistent/kuryr.conf"},
	} {
		if _, err := Load(args, env(nil)); err == nil {
			t.Errorf("%v: expected an error", args)
		}
	}
}

func TestParkingAndMemoryOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kuryr.conf")
	conf := "[cni_daemon]\npark_pool_ports = false\npark_grace = 5\nmemory_limit_mib = 64\n"
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{"--config-file", path, "--node-name", "n"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ParkPoolPorts || c.ParkGrace != 5*time.Second || c.MemoryLimitMiB != 64 {
		t.Fatalf("%+v", c)
	}
	d, _ := Load([]string{"--node-name", "n"}, env(nil))
	if !d.ParkPoolPorts || d.ParkGrace != 30*time.Second || d.MemoryLimitMiB != 24 {
		t.Fatalf("defaults: %+v", d)
	}
	if err := os.WriteFile(path, []byte("[cni_daemon]\npark_pool_ports = maybe\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load([]string{"--config-file", path, "--node-name", "n"}, env(nil)); err == nil {
		t.Fatal("no error for park_pool_ports = maybe")
	}
}

func TestKubernetesGroupFromFile(t *testing.T) {
	c, err := loadConf(t, "[kubernetes]\napi_root = https://10.0.0.1:6443\ntoken_file = /etc/kuryr/token\nssl_verify_server_crt = false\n")
	if err != nil {
		t.Fatal(err)
	}
	if k := c.Kubernetes; k.APIRoot != "https://10.0.0.1:6443" || k.TokenFile != "/etc/kuryr/token" || !k.InsecureSkipTLSVerify {
		t.Fatalf("[kubernetes] = %+v", k)
	}
	if _, err := loadConf(t, "[kubernetes]\napi_root = nowhere\n"); err == nil ||
		!strings.HasPrefix(err.Error(), "kuryr.conf: [kubernetes] api_root: ") {
		t.Fatalf("error = %v", err)
	}
}

// loadConf loads a kuryr.conf with the given contents and flags.
func loadConf(t *testing.T, conf string, args ...string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kuryr.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(append([]string{"--config-file", path, "--node-name", "n"}, args...), env(nil))
}

func TestPortsOutOfRangeRejectedAndZeroDisables(t *testing.T) {
	for _, o := range []struct{ group, option string }{{"cni_health_server", "port"}, {"prometheus_exporter", "cni_exporter_port"}} {
		for _, v := range []string{"-1", "70000", "65536", "http"} {
			_, err := loadConf(t, "["+o.group+"]\n"+o.option+" = "+v+"\n")
			if want := "kuryr.conf: [" + o.group + "] " + o.option + ": "; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%s = %s: error = %v, want prefix %q", o.option, v, err, want)
			}
		}
	}
	c, err := loadConf(t, "[cni_health_server]\nport = 0\n[prometheus_exporter]\ncni_exporter_port = 0\n")
	if err != nil || c.HealthAddr != "" || c.MetricsAddr != "" {
		t.Fatalf("port 0 must disable the server (empty address): %+v %v", c, err)
	}
	c, err = loadConf(t, "[cni_health_server]\nport = 65535\n")
	if err != nil || c.HealthAddr != ":65535" {
		t.Fatalf("port 65535: %+v %v", c, err)
	}
}

func TestOVSVsctlTimeoutAtLeastOneSecond(t *testing.T) {
	for _, v := range []string{"0", "0.4", "0.9", "999ms", "-1", "NaN", "Inf", "1e300"} {
		_, err := loadConf(t, "[cni_daemon]\novs_vsctl_timeout = "+v+"\n")
		if want := "kuryr.conf: [cni_daemon] ovs_vsctl_timeout: "; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ovs_vsctl_timeout = %s: error = %v, want prefix %q", v, err, want)
		}
	}
	if _, err := Load([]string{"--ovs-timeout", "500ms", "--node-name", "n"}, env(nil)); err == nil || !strings.Contains(err.Error(), "--ovs-timeout") {
		t.Errorf("--ovs-timeout 500ms: error = %v", err)
	}
	c, err := loadConf(t, "[cni_daemon]\novs_vsctl_timeout = 1\n")
	if err != nil || c.OVSTimeout != time.Second {
		t.Fatalf("ovs_vsctl_timeout = 1: %+v %v", c, err)
	}
}

func TestDaemonDurationsNameTheirOption(t *testing.T) {
	for _, o := range []string{"vif_annotation_timeout", "vif_active_timeout", "park_grace"} {
		for _, v := range []string{"0", "-2", "NaN", "-Inf", "1e300"} {
			_, err := loadConf(t, "[cni_daemon]\n"+o+" = "+v+"\n")
			if want := "kuryr.conf: [cni_daemon] " + o + ": "; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%s = %s: error = %v, want prefix %q", o, v, err, want)
			}
		}
	}
}

func TestContinuationLinesStillAccepted(t *testing.T) {
	c, err := loadConf(t, "[cni_daemon]\ndaemon_socket = /run/k.sock\nextra = a,\n    b\n[kubernetes]\napi_root = https://k:6443\n")
	if err != nil || c.SocketPath != "/run/k.sock" || c.Kubernetes.APIRoot != "https://k:6443" {
		t.Fatalf("%+v %v", c, err)
	}
}
