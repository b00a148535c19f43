//go:build integration

// Package integration runs the controller against the real testbed (Kubernetes API server,
// kubelet and Neutron inside network namespace kuryr-tb). Run it there:
//
//	nsenter --net=/run/netns/kuryr-tb go test -tags integration ./test/integration/...
//
// Tests skip when the testbed env file (/var/lib/kuryr-testbed/env, or $KURYR_TESTBED_ENV)
// is missing.
package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/controller/app"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/test/tbenv"
)

// Testbed is the parsed env file.
type Testbed struct {
	Env map[string]string
}

// LoadTestbed reads the env file or skips the test.
func LoadTestbed(t testing.TB) *Testbed {
	t.Helper()
	path := tbenv.Path()
	env, err := tbenv.Read(path)
	if os.IsNotExist(err) {
		t.Skipf("testbed not available (%s: %v); bring it up with hack/testbed.sh up", path, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	tb := &Testbed{Env: env}
	for _, k := range []string{"KUBECONFIG", "NEUTRON_ENDPOINT", "NODE_NAME", "K8S_PROJECT_ID", "POD_SUBNET_ID", "POD_SG_ID", "KURYR_CONF"} {
		if env[k] == "" {
			t.Fatalf("testbed env %s has no %s", path, k)
		}
	}
	return tb
}

// Get returns one env value.
func (tb *Testbed) Get(k string) string { return tb.Env[k] }

// Config loads the testbed's kuryr.conf with a cluster ID of its own, so this test's sweep
// only ever touches this test's ports, and fast intervals.
func (tb *Testbed) Config(t testing.TB, clusterID string) *config.Config {
	t.Helper()
	cfg, _, err := config.Load(tb.Get("KURYR_CONF"))
	if err != nil {
		t.Fatalf("testbed kuryr.conf: %v", err)
	}
	cfg.Kubernetes.ClusterID = clusterID
	cfg.Controller.SweepPeriod = 2 * time.Second
	cfg.Controller.SweepGracePeriod = time.Minute
	cfg.Controller.QuotaRetryInterval = 2 * time.Second
	cfg.HealthServer.Port, cfg.Prometheus.ControllerExporterPort = 0, 0
	return cfg
}

// Neutron is a noauth client of the testbed Neutron.
func (tb *Testbed) Neutron(t testing.TB) neutron.Client {
	t.Helper()
	s, err := openstack.NoAuth(openstack.Options{NeutronEndpoint: tb.Get("NEUTRON_ENDPOINT"), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, err := neutron.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Kube is a client of the testbed API server.
func (tb *Testbed) Kube(t testing.TB) client.Client {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", tb.Get("KUBECONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 100, 200
	c, err := client.New(rc, client.Options{Scheme: app.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	tb.ensureCRDs(t)
	return c
}

// ensureCRDs installs deploy/crds (kubectl apply is idempotent) and waits until the
// KuryrPort CRD is established: a fresh testbed has no CRDs of ours.
func (tb *Testbed) ensureCRDs(t testing.TB) {
	t.Helper()
	crdOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		crds := filepath.Join(filepath.Dir(file), "..", "..", "deploy", "crds")
		kubectl := func(args ...string) error {
			out, err := exec.Command(tb.Get("KUBECTL"), append([]string{"--kubeconfig=" + tb.Get("KUBECONFIG")}, args...)...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
			}
			return nil
		}
		if crdErr = kubectl("apply", "-f", crds); crdErr != nil {
			return
		}
		for i := 0; i < 60; i++ { // a new CRD has no conditions at first: kubectl wait fails then
			if crdErr = kubectl("wait", "--for=condition=Established", "--timeout=10s", "crd/kuryrports.openstack.org"); crdErr == nil {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
	if crdErr != nil {
		t.Fatalf("installing the CRDs: %v", crdErr)
	}
}

var (
	crdOnce sync.Once
	crdErr  error
)

// Namespace creates a namespace removed at the end of the test.
func (tb *Testbed) Namespace(t testing.TB, kube client.Client) string {
	t.Helper()
	ns := "kuryr-it-" + randomSuffix()
	if err := kube.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	})
	return ns
}

// Controller is the kuryr-controller a test runs against.
type Controller struct {
	ClusterID string
	// External is true when the testbed's own controller (holding the leader Lease) does
	// the work; a second, in-process one would race with it.
	External bool
	// SweepPeriod and QuotaRetry bound how long the tests wait for those paths.
	SweepPeriod, QuotaRetry time.Duration
}

// externalController reports the holder of the testbed controller's Lease if it is live.
func externalController(kube client.Client) (string, bool) {
	switch os.Getenv("KURYR_IT_CONTROLLER") {
	case "inprocess":
		return "", false
	case "external":
		return "forced by KURYR_IT_CONTROLLER", true
	}
	var lease coordinationv1.Lease
	if err := kube.Get(context.Background(), types.NamespacedName{Namespace: "kube-system", Name: "kuryr-controller"}, &lease); err != nil {
		return "", false
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" || lease.Spec.RenewTime == nil {
		return "", false
	}
	ttl := 15 * time.Second
	if lease.Spec.LeaseDurationSeconds != nil {
		ttl = time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second
	}
	if time.Since(lease.Spec.RenewTime.Time) > 2*ttl {
		return "", false
	}
	return *lease.Spec.HolderIdentity, true
}

// StartController uses the testbed's running controller if there is one (it handles every
// namespace, so a second one would compete for the same pods); otherwise it runs the
// controller of this tree in-process, restricted to namespace ns, with a cluster ID of its
// own and fast intervals, until the test ends.
func (tb *Testbed) StartController(t testing.TB, kube client.Client, ns string) *Controller {
	t.Helper()
	if holder, ok := externalController(kube); ok {
		cfg, _, err := config.Load(tb.Get("KURYR_CONF"))
		if err != nil {
			t.Fatalf("testbed kuryr.conf: %v", err)
		}
		t.Logf("using the testbed's running kuryr-controller (lease holder %s)", holder)
		return &Controller{ClusterID: cfg.Kubernetes.ClusterID, External: true,
			SweepPeriod: cfg.Controller.SweepPeriod, QuotaRetry: cfg.Controller.QuotaRetryInterval}
	}
	cfg := tb.Config(t, "it-"+randomSuffix())
	tb.runController(t, cfg, ns)
	return &Controller{ClusterID: cfg.Kubernetes.ClusterID, SweepPeriod: cfg.Controller.SweepPeriod,
		QuotaRetry: cfg.Controller.QuotaRetryInterval}
}

func (tb *Testbed) runController(t testing.TB, cfg *config.Config, ns string) {
	t.Helper()
	stop := tb.startController(t, cfg, ns)
	t.Cleanup(stop)
}

// startController runs the controller of this tree in-process, restricted to namespace ns,
// and returns the function that stops it (reporting errors on t).
func (tb *Testbed) startController(t testing.TB, cfg *config.Config, ns string) func() {
	t.Helper()
	logPath := filepath.Join(os.TempDir(), fmt.Sprintf("kuryr-it-%s-%s.log", sanitize(t.Name()), randomSuffix()))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	log := zap.New(zap.WriteTo(logFile), zap.UseDevMode(true))
	ctrl.SetLogger(log)
	rc, err := clientcmd.BuildConfigFromFlags("", tb.Get("KUBECONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 100, 200
	ctx, cancel := context.WithCancel(context.Background())
	opts := app.Options{MetricsAddr: "0", HealthAddr: "0", Namespaces: []string{ns}, SkipNameValidation: true}
	osc, err := app.Prepare(ctx, cfg, 30*time.Second, log)
	if err != nil {
		cancel()
		t.Fatalf("controller start-up: %v", err)
	}
	mgr, err := app.NewManager(rc, cfg, opts, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	controllers, err := app.Enabled(cfg.Kubernetes.EnabledHandlers, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	deps := app.Deps{Manager: mgr, Config: cfg, Options: opts, OpenStack: osc, ClusterID: cfg.Kubernetes.ClusterID, Log: log}
	if err := app.Setup(deps, controllers); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("controller: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("controller did not stop")
		}
		logFile.Close()
		if t.Failed() {
			t.Logf("controller log: %s", logPath)
		} else {
			os.Remove(logPath)
		}
	}
}

// SetPortQuota sets the project's port quota (raw Neutron API; not part of the product
// client) and returns the previous limit.
func (tb *Testbed) SetPortQuota(t testing.TB, project string, limit int) int {
	t.Helper()
	base := strings.TrimSuffix(tb.Get("NEUTRON_ENDPOINT"), "/") + "/v2.0/quotas/" + project
	var cur struct {
		Quota struct {
			Port int `json:"port"`
		} `json:"quota"`
	}
	tb.neutronJSON(t, http.MethodGet, base, nil, &cur)
	body, _ := json.Marshal(map[string]any{"quota": map[string]any{"port": limit}})
	tb.neutronJSON(t, http.MethodPut, base, body, nil)
	return cur.Quota.Port
}

// EnsureSubnet returns the ID of the k8s project's subnet named name with the given CIDR (on
// a network of the same name), creating both if needed. They stay for later runs; the testbed's
// down removes them with everything else.
func (tb *Testbed) EnsureSubnet(t testing.TB, name, cidr string) string {
	t.Helper()
	base := strings.TrimSuffix(tb.Get("NEUTRON_ENDPOINT"), "/") + "/v2.0"
	project := tb.Get("K8S_PROJECT_ID")
	var subnets struct {
		Subnets []struct {
			ID string `json:"id"`
		} `json:"subnets"`
	}
	tb.neutronJSON(t, http.MethodGet, base+"/subnets?name="+name+"&project_id="+project, nil, &subnets)
	if len(subnets.Subnets) > 0 {
		return subnets.Subnets[0].ID
	}
	var nw struct {
		Network struct {
			ID string `json:"id"`
		} `json:"network"`
	}
	body, _ := json.Marshal(map[string]any{"network": map[string]any{"name": name, "project_id": project}})
	tb.neutronJSON(t, http.MethodPost, base+"/networks", body, &nw)
	var sn struct {
		Subnet struct {
			ID string `json:"id"`
		} `json:"subnet"`
	}
	body, _ = json.Marshal(map[string]any{"subnet": map[string]any{"name": name, "project_id": project,
		"network_id": nw.Network.ID, "ip_version": 4, "cidr": cidr, "enable_dhcp": false}})
	tb.neutronJSON(t, http.MethodPost, base+"/subnets", body, &sn)
	return sn.Subnet.ID
}

// PortsInUse returns the number of ports the project uses, from quota details.
func (tb *Testbed) PortsInUse(t testing.TB, project string) int {
	t.Helper()
	var d struct {
		Quota struct {
			Port struct {
				Used int `json:"used"`
			} `json:"port"`
		} `json:"quota"`
	}
	tb.neutronJSON(t, http.MethodGet, strings.TrimSuffix(tb.Get("NEUTRON_ENDPOINT"), "/")+"/v2.0/quotas/"+project+"/details", nil, &d)
	return d.Quota.Port.Used
}

func (tb *Testbed) neutronJSON(t testing.TB, method, url string, body []byte, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '_'
		}
		return r
	}, s)
}

// Eventually polls cond every interval until it returns true or timeout passes.
func Eventually(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}
