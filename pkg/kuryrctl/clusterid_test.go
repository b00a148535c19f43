package kuryrctl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kuryr-go/kuryr-go/pkg/config"
)

// writeConf writes a kuryr.conf for a Neutron that is never reached: the commands must fail
// on the cluster ID before they talk to it.
func writeConf(t *testing.T, kubernetes string) string {
	t.Helper()
	conf := "[kubernetes]\n" + kubernetes + "\n[neutron]\nauth_type = noauth\nendpoint = http://127.0.0.1:1/\n" +
		"[neutron_defaults]\nproject = p\npod_subnet = s\npod_security_groups = sg\n"
	path := filepath.Join(t.TempDir(), "kuryr.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(args ...string) error {
	root := NewRoot()
	var out strings.Builder
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	return root.Execute()
}

func TestCommandsOnClusterPortsNeedAClusterID(t *testing.T) {
	conf := writeConf(t, "")
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing")) // no cluster to derive it from
	for _, args := range [][]string{
		{"pools", "list"}, {"pools", "drain"}, {"pools", "prefill", "node-1"}, {"gc"},
	} {
		err := run(append([]string{"--config", conf, "--timeout", "5s"}, args...)...)
		want := "[kubernetes] cluster_id is not set (pass --cluster-id) and the cluster cannot be asked"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("kuryrctl %s: error = %v, want %q", strings.Join(args, " "), err, want)
		}
	}
}

func TestClusterIDFlagWinsAndIsValidated(t *testing.T) {
	g := &globals{}
	cfg := writeConf(t, "cluster_id = from-conf")
	root := NewRoot()
	root.SetArgs([]string{"--config", cfg, "pools", "list", "--cluster-id", "a,b"})
	err := root.Execute()
	if err == nil || !strings.HasPrefix(err.Error(), `--cluster-id "a,b": must not contain commas`) {
		t.Errorf("error = %v", err)
	}
	for _, tc := range []struct{ flag, conf, want string }{
		{"", "from-conf", "from-conf"},
		{"from-flag", "from-conf", "from-flag"},
		{"from-flag", "", "from-flag"},
	} {
		g.clusterIDFlag = tc.flag
		c := mustLoad(t, writeConf(t, "cluster_id = "+tc.conf))
		if got, err := g.clusterID(context.Background(), c); err != nil || got != tc.want {
			t.Errorf("flag %q, conf %q: %q, %v; want %q", tc.flag, tc.conf, got, err, tc.want)
		}
	}
}

func mustLoad(t *testing.T, path string) *config.Config {
	t.Helper()
	c, _, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
