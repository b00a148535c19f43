//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
)

// daemonProc is a kuryr-daemon started by a test.
type daemonProc struct {
	cmd    *exec.Cmd
	socket string
	log    string
}

// startDaemon runs kuryr-daemon for node with its own socket and ports.
func startDaemon(t *testing.T, dir, node string, extra ...string) *daemonProc {
	t.Helper()
	d := &daemonProc{socket: filepath.Join(dir, "daemon.sock"), log: filepath.Join(dir, fmt.Sprintf("daemon-%d.log", time.Now().UnixNano()))}
	logf, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--kubeconfig", tb["KUBECONFIG"], "--node-name", node, "--socket", d.socket,
		"--health-addr", "127.0.0.1:18090", "--metrics-addr", "127.0.0.1:19655", "--v", "1"}, extra...)
	d.cmd = exec.Command(filepath.Join(binDir, "kuryr-daemon"), args...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop(t); _ = logf.Close() })
	// Ready when STATUS succeeds.
	for i := 0; ; i++ {
		if r := cni(t, "STATUS", cniCall{socket: d.socket, version: "1.1.0"}); r.code == 0 {
			return d
		}
		if i > 150 {
			t.Fatalf("daemon not ready after 30s; log %s:\n%s", d.log, readFile(d.log))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (d *daemonProc) stop(t *testing.T) {
	if d.cmd.ProcessState != nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
	t.Logf("daemon log %s:\n%s", d.log, tail(readFile(d.log), 15))
}

func readFile(p string) string { b, _ := os.ReadFile(p); return string(b) }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

type cniCall struct {
	socket, version, netns, containerID, podNS, podName, podUID string
	prevResult                                                  json.RawMessage
}

type cniResult struct {
	out  []byte
	code int // process exit code
}

func (r cniResult) errCode() uint {
	var e struct {
		Code uint `json:"code"`
	}
	_ = json.Unmarshal(r.out, &e)
	return e.Code
}

// cni runs the kuryr-cni binary like a container runtime does.
func cni(t *testing.T, command string, c cniCall) cniResult {
	t.Helper()
	conf := map[string]any{"cniVersion": c.version, "name": "kuryr", "type": "kuryr-cni", "daemon_socket": c.socket}
	if c.prevResult != nil {
		conf["prevResult"] = c.prevResult
	}
	stdin, _ := json.Marshal(conf)
	cmd := exec.Command(filepath.Join(binDir, "kuryr-cni"))
	cmd.Env = []string{"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + c.containerID, "CNI_NETNS=" + c.netns,
		"CNI_IFNAME=eth0", "CNI_PATH=" + binDir,
		fmt.Sprintf("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_UID=%s", c.podNS, c.podName, c.podUID)}
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout = &out
	_ = cmd.Run()
	return cniResult{out: out.Bytes(), code: cmd.ProcessState.ExitCode()}
}

// sandboxOf returns the container ID and netns path kuryr recorded in OVS for a port.
func sandboxOf(t *testing.T, portID string) (cid, netns string) {
	t.Helper()
	ifaces, err := ovs.NewClient(10*time.Second).FindInterfaces(context.Background(), ovs.KeyIfaceID, portID)
	if err != nil || len(ifaces) != 1 {
		t.Fatalf("OVS interface of port %s: %v %v", portID, ifaces, err)
	}
	return ifaces[0].ExternalIDs[ovs.KeyContainerID], ifaces[0].ExternalIDs[ovs.KeyNetns]
}

// TestCNIBinaryDirect runs the kuryr-cni binary by hand against a kuryr-daemon of the test's
// own (same node, own socket), for a pod the kubelet started through the testbed's daemon:
// CHECK of the kubelet's sandbox (also after its address was removed), a second sandbox
// ADDed by hand, a daemon restart between ADD and DEL, DEL of the stale kubelet sandbox
// (must not unplug the new one), DEL twice, DEL without ADD, DEL with a missing netns, and
// ADD of a pod that does not exist.
func TestCNIBinaryDirect(t *testing.T) {
	requireTestbed(t)
	kc := kubeClient(t)
	suffix := fmt.Sprint(time.Now().UnixNano() % 100000)
	nsName := "kuryr-e2e-cni-" + suffix
	testNamespace(t, kc, nsName)
	pod := createPod(t, kc, nsName, "direct")
	vif := defaultVIF(t, getKuryrPort(t, kc, nsName, "direct"))
	kubeletCID, kubeletNetns := sandboxOf(t, vif.ID)

	dir := t.TempDir()
	d := startDaemon(t, dir, tb["NODE_NAME"], "--active-signal", "any", "--active-timeout", "30s", "--vif-timeout", "10s")
	base := cniCall{socket: d.socket, version: "1.0.0", podNS: nsName, podName: "direct", podUID: string(pod.UID)}

	// CHECK the sandbox the kubelet created, then break it.
	kubelet := base
	kubelet.netns, kubelet.containerID = kubeletNetns, kubeletCID
	if r := cni(t, "CHECK", kubelet); r.code != 0 {
		t.Fatalf("CHECK of the kubelet's sandbox: %s", r.out)
	}
	addr := fmt.Sprintf("%s/%s", vif.Subnets[0].IPs[0], strings.Split(vif.Subnets[0].CIDR, "/")[1])
	mustRun(t, "nsenter", "--net="+kubeletNetns, "ip", "addr", "del", addr, "dev", "eth0")
	if r := cni(t, "CHECK", kubelet); r.code == 0 || !strings.Contains(string(r.out), "missing") {
		t.Fatalf("CHECK after the address was removed: %s", r.out)
	}
	mustRun(t, "nsenter", "--net="+kubeletNetns, "ip", "addr", "add", addr, "dev", "eth0")

	// A second sandbox of the same pod, ADDed by hand (as after a sandbox re-creation).
	sb := newPodNS(t)
	call := base
	call.netns, call.containerID = sb.Path(), "e2e-cid-"+suffix
	start := time.Now()
	r := cni(t, "ADD", call)
	if r.code != 0 {
		t.Fatalf("ADD: %s\n%s", r.out, tail(readFile(d.log), 20))
	}
	t.Logf("ADD by hand (port already ACTIVE): %v", time.Since(start))
	if !strings.Contains(string(r.out), vif.Subnets[0].IPs[0]) || !strings.Contains(string(r.out), vif.Address) {
		t.Fatalf("result: %s", r.out)
	}
	gw := vif.Subnets[0].Gateway
	pingFrom(t, sb.Path(), gw)

	// Restart the daemon between ADD and DEL: traffic must not stop, and the new process
	// must find the port from OVS.
	d.stop(t)
	pingFrom(t, sb.Path(), gw)
	d = startDaemon(t, dir, tb["NODE_NAME"], "--active-signal", "any")
	call.socket, kubelet.socket = d.socket, d.socket
	if r := cni(t, "CHECK", call); r.code != 0 {
		t.Fatalf("CHECK after the daemon restart: %s", r.out)
	}
	// DEL of the older (kubelet's) sandbox must leave the newer one alone.
	if r := cni(t, "DEL", kubelet); r.code != 0 {
		t.Fatalf("DEL of the old sandbox: %s", r.out)
	}
	if r := cni(t, "CHECK", call); r.code != 0 {
		t.Fatalf("DEL of the old sandbox broke the new one: %s", r.out)
	}
	pingFrom(t, sb.Path(), gw)

	for i := 0; i < 2; i++ {
		if r := cni(t, "DEL", call); r.code != 0 {
			t.Fatalf("DEL %d: %s", i, r.out)
		}
	}
	if out, _ := run(t, "ovs-vsctl", "--if-exists", "get", "Port", vif.VIFName, "name"); out != "" {
		t.Fatalf("OVS port %s still there after DEL", vif.VIFName)
	}
	other := call
	other.containerID = "never-added-" + suffix
	if r := cni(t, "DEL", other); r.code != 0 {
		t.Fatalf("DEL without ADD: %s", r.out)
	}
	other.netns = "/var/run/netns/kuryr-e2e-gone"
	if r := cni(t, "DEL", other); r.code != 0 {
		t.Fatalf("DEL with a missing netns: %s", r.out)
	}

	// Health and metrics of the test's daemon.
	for path, want := range map[string]string{
		"http://127.0.0.1:18090/ready": "ok", "http://127.0.0.1:18090/alive": "ok",
		"http://127.0.0.1:19655/metrics": `kuryr_cni_request_duration_seconds_count{command="DEL",result="success"}`,
	} {
		resp, err := http.Get(path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("%s: HTTP %d, body lacks %q", path, resp.StatusCode, want)
		}
	}

	ghost := call
	ghost.podName, ghost.podUID, ghost.containerID = "no-such-pod", "no-such-uid", "ghost-"+suffix
	start = time.Now()
	r = cni(t, "ADD", ghost)
	if r.code == 0 || r.errCode() != 3 || !strings.Contains(string(r.out), "does not exist") {
		t.Fatalf("ADD of a nonexistent pod: %s", r.out)
	}
	t.Logf("ADD of a nonexistent pod failed in %v: %s", time.Since(start), bytes.TrimSpace(r.out))
}
