// Package kubeclient finds the Kubernetes API server and the credentials every kuryr binary
// uses for it, from a --kubeconfig flag and the [kubernetes] group of kuryr.conf.
package kubeclient

import (
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kuryr-go/kuryr-go/pkg/config"
)

// The credentials Kubernetes mounts into every pod. Variables so that tests can move them.
var (
	serviceAccountToken = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	serviceAccountCA    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// InsecureWarning is what a caller logs when the configuration RestConfig returned does not
// verify the API server's certificate (rest.Config Insecure).
const InsecureWarning = "The Kubernetes API server's TLS certificate is not verified " +
	"([kubernetes] ssl_verify_server_crt = false, or insecure-skip-tls-verify in the kubeconfig): " +
	"the service account token goes to whoever answers"

// RestConfig finds the Kubernetes API, the first of:
//   - the kubeconfig named by flagKubeconfig, [kubernetes] kubeconfig or $KUBECONFIG;
//   - [kubernetes] api_root, with token_file (default: the pod's service account token) and
//     the ssl_* files;
//   - the in-cluster configuration.
//
// With api_root the server's certificate is verified against ssl_ca_crt_file, else against
// the pod's service account CA when there is one, else against the system roots. Only an
// explicit ssl_verify_server_crt = false turns the verification off; the returned config
// then has Insecure set, and the caller should log InsecureWarning.
func RestConfig(flagKubeconfig string, k config.Kubernetes) (*rest.Config, error) {
	path := flagKubeconfig
	if path == "" {
		path = k.Kubeconfig
	}
	if path == "" {
		path = os.Getenv("KUBECONFIG")
	}
	if path != "" {
		c, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("loading the kubeconfig %s: %w", path, err)
		}
		return c, nil
	}
	if k.APIRoot != "" {
		return apiRootConfig(k), nil
	}
	c, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("no kubeconfig, no [kubernetes] api_root, and not in a cluster: %w", err)
	}
	return c, nil
}

// apiRootConfig is the configuration of [kubernetes] api_root.
func apiRootConfig(k config.Kubernetes) *rest.Config {
	tls := rest.TLSClientConfig{CAFile: k.SSLCACrtFile, CertFile: k.SSLClientCrtFile, KeyFile: k.SSLClientKeyFile}
	switch {
	case k.InsecureSkipTLSVerify:
		tls.Insecure = true
	case tls.CAFile == "" && exists(serviceAccountCA):
		tls.CAFile = serviceAccountCA
	}
	token := k.TokenFile
	if token == "" && exists(serviceAccountToken) {
		token = serviceAccountToken
	}
	return &rest.Config{Host: k.APIRoot, BearerTokenFile: token, TLSClientConfig: tls}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
