package kubeclient

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kuryr-go/kuryr-go/pkg/config"
)

// kubeconfig writes a kubeconfig whose only cluster is server.
func kubeconfig(t *testing.T, server string) string {
	t.Helper()
	body := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + server + "\n" +
		"users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n" +
		"current-context: x\n"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// noPodCredentials makes the test run as if outside a pod, whatever the host has.
func noPodCredentials(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	token, ca := serviceAccountToken, serviceAccountCA
	serviceAccountToken, serviceAccountCA = filepath.Join(dir, "token"), filepath.Join(dir, "ca.crt")
	t.Cleanup(func() { serviceAccountToken, serviceAccountCA = token, ca })
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
}

func TestKubeconfigPrecedence(t *testing.T) {
	noPodCredentials(t)
	flag, conf, env := kubeconfig(t, "https://flag:6443"), kubeconfig(t, "https://conf:6443"), kubeconfig(t, "https://env:6443")
	k := config.Kubernetes{Kubeconfig: conf, APIRoot: "https://api-root:6443"}
	for _, tc := range []struct {
		flag, conf, env, want string
	}{
		{flag, conf, env, "https://flag:6443"},
		{"", conf, env, "https://conf:6443"},
		{"", "", env, "https://env:6443"},
		{"", "", "", "https://api-root:6443"},
	} {
		t.Setenv("KUBECONFIG", tc.env)
		k.Kubeconfig = tc.conf
		c, err := RestConfig(tc.flag, k)
		if err != nil || c.Host != tc.want {
			t.Errorf("flag %q, conf %q, env %q: host %v, %v; want %s", tc.flag, tc.conf, tc.env, c, err, tc.want)
		}
	}
	if _, err := RestConfig(filepath.Join(t.TempDir(), "missing"), k); err == nil || !strings.Contains(err.Error(), "loading the kubeconfig") {
		t.Errorf("missing kubeconfig: %v", err)
	}
}

func TestAPIRootVerifiesTheServerUnlessExplicitlyNot(t *testing.T) {
	noPodCredentials(t)
	k := config.Kubernetes{APIRoot: "https://10.0.0.1:6443"}
	c, err := RestConfig("", k)
	if err != nil {
		t.Fatal(err)
	}
	if c.Insecure || c.CAFile != "" || c.BearerTokenFile != "" {
		t.Errorf("api_root without CA: insecure %v, CA %q, token %q; want verified against the system roots",
			c.Insecure, c.CAFile, c.BearerTokenFile)
	}

	// In a pod: the service account's CA and token.
	for _, f := range []string{serviceAccountCA, serviceAccountToken} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, _ = RestConfig("", k)
	if c.Insecure || c.CAFile != serviceAccountCA || c.BearerTokenFile != serviceAccountToken {
		t.Errorf("api_root in a pod: insecure %v, CA %q, token %q", c.Insecure, c.CAFile, c.BearerTokenFile)
	}

	k.SSLCACrtFile, k.TokenFile = "/etc/kuryr/ca.crt", "/etc/kuryr/token"
	c, _ = RestConfig("", k)
	if c.Insecure || c.CAFile != "/etc/kuryr/ca.crt" || c.BearerTokenFile != "/etc/kuryr/token" {
		t.Errorf("api_root with CA and token files: insecure %v, CA %q, token %q", c.Insecure, c.CAFile, c.BearerTokenFile)
	}

	k.SSLCACrtFile, k.InsecureSkipTLSVerify = "", true
	c, _ = RestConfig("", k)
	if !c.Insecure || c.CAFile != "" {
		t.Errorf("ssl_verify_server_crt = false: insecure %v, CA %q; want no verification", c.Insecure, c.CAFile)
	}
}

func TestAPIRootFromKuryrConf(t *testing.T) {
	noPodCredentials(t)
	for conf, insecure := range map[string]bool{
		"api_root = https://k:6443\n":                                false,
		"api_root = https://k:6443\nssl_verify_server_crt = true\n":  false,
		"api_root = https://k:6443\nssl_verify_server_crt = false\n": true,
	} {
		k, err := config.ParseKubernetes([]byte("[kubernetes]\n" + conf))
		if err != nil {
			t.Fatal(err)
		}
		c, err := RestConfig("", k)
		if err != nil || c.Insecure != insecure {
			t.Errorf("%q: insecure = %v (%v), want %v", conf, c != nil && c.Insecure, err, insecure)
		}
	}
}

func TestNothingConfiguredOutsideACluster(t *testing.T) {
	noPodCredentials(t)
	if _, err := RestConfig("", config.Kubernetes{}); err == nil || !strings.Contains(err.Error(), "not in a cluster") {
		t.Fatalf("error = %v", err)
	}
}
