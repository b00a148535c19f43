package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	buildOnce  sync.Once
	pluginPath string
	buildErr   error
)

// pluginBinary builds cmd/kuryr-cni once per test run.
func pluginBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kuryr-cni-bin")
		if err != nil {
			buildErr = err
			return
		}
		pluginPath = filepath.Join(dir, "kuryr-cni")
		out, err := exec.Command("go", "build", "-o", pluginPath, "../../../cmd/kuryr-cni").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("building kuryr-cni: %v", buildErr)
	}
	return pluginPath
}

// testDaemon serves a fixture's service on a temp socket.
type testDaemon struct {
	*fixture
	socket string
	ready  error
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan struct{}
	// recorded holds the pod Events the server posted.
	recorded fakeRecorder
}

type fakeRecorder struct {
	mu     sync.Mutex
	events []string
}

func (r *fakeRecorder) PodEvent(ns, name, uid, typ, reason, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("%s/%s %s %s %s: %s", ns, name, uid, typ, reason, msg))
}

func (r *fakeRecorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func startDaemon(t *testing.T, f *fixture) *testDaemon {
	t.Helper()
	d := &testDaemon{fixture: f, socket: filepath.Join(t.TempDir(), "run", "daemon.sock"), reg: prometheus.NewRegistry(), done: make(chan struct{})}
	f.svc.Metrics = NewMetrics(d.reg)
	srv := &Server{Service: f.svc, Ready: func(context.Context) error { return d.ready }, Log: testr.New(t),
		Events: NewEvents(16), Recorder: &d.recorded}
	l, err := Listen(d.socket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(d.socket)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", st.Mode(), err)
	}
	var ctx context.Context
	ctx, d.cancel = context.WithCancel(context.Background())
	go func() { _ = srv.Serve(ctx, l); close(d.done) }()
	t.Cleanup(d.stop)
	return d
}

func (d *testDaemon) stop() {
	d.cancel()
	<-d.done
}

type cniRun struct {
	stdout   []byte
	exitCode int
}

func (r cniRun) errorCode(t *testing.T) uint {
	t.Helper()
	var e struct {
		Code uint   `json:"code"`
		Msg  string `json:"msg"`
	}
	if err := json.Unmarshal(r.stdout, &e); err != nil {
		t.Fatalf("error output %q: %v", r.stdout, err)
	}
	return e.Code
}

// runPlugin executes kuryr-cni the way a container runtime does.
func runPlugin(t *testing.T, command, netns, socket, cniVersion string, extra map[string]any) cniRun {
	t.Helper()
	conf := map[string]any{"cniVersion": cniVersion, "name": "kuryr", "type": "kuryr-cni", "daemon_socket": socket, "timeout": 10}
	for k, v := range extra {
		conf[k] = v
	}
	stdin, _ := json.Marshal(conf)
	cmd := exec.Command(pluginBinary(t))
	cmd.Env = []string{
		"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + testCID, "CNI_NETNS=" + netns, "CNI_IFNAME=eth0",
		"CNI_PATH=/opt/cni/bin", "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod1;K8S_POD_UID=" + testUID,
	}
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running plugin: %v", err)
	}
	return cniRun{stdout: stdout.Bytes(), exitCode: cmd.ProcessState.ExitCode()}
}

func TestPluginBinaryAgainstDaemon(t *testing.T) {
	f := newFixture(SignalNeutron)
	f.ports.set(testKP(testUID, true))
	d := startDaemon(t, f)
	netns := "/var/run/netns/kuryr-test-absent"

	for _, v := range []string{"0.3.1", "0.4.0", "1.0.0"} {
		r := runPlugin(t, "ADD", netns, d.socket, v, nil)
		if r.exitCode != 0 {
			t.Fatalf("ADD %s: exit %d: %s", v, r.exitCode, r.stdout)
		}
		var res map[string]any
		if err := json.Unmarshal(r.stdout, &res); err != nil || res["cniVersion"] != v {
			t.Fatalf("ADD %s: %s", v, r.stdout)
		}
		if !strings.Contains(string(r.stdout), `"10.0.0.70/26"`) || !strings.Contains(string(r.stdout), `"fa:16:3e:aa:bb:cc"`) {
			t.Fatalf("ADD %s result: %s", v, r.stdout)
		}
	}
	prev := json.RawMessage(`{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"` + netns + `"}]}`)
	if r := runPlugin(t, "CHECK", netns, d.socket, "1.0.0", map[string]any{"prevResult": prev}); r.exitCode != 0 {
		t.Fatalf("CHECK: %s", r.stdout)
	}
	if r := runPlugin(t, "DEL", netns, d.socket, "1.0.0", nil); r.exitCode != 0 || len(r.stdout) != 0 {
		t.Fatalf("DEL: %d %s", r.exitCode, r.stdout)
	}
	if r := runPlugin(t, "DEL", "", d.socket, "1.0.0", nil); r.exitCode != 0 {
		t.Fatalf("DEL without netns: %s", r.stdout)
	}
	if r := runPlugin(t, "VERSION", "", d.socket, "1.0.0", nil); r.exitCode != 0 || !strings.Contains(string(r.stdout), `"0.3.1"`) {
		t.Fatalf("VERSION: %s", r.stdout)
	}
	if r := runPlugin(t, "STATUS", "", d.socket, "1.1.0", nil); r.exitCode != 0 {
		t.Fatalf("STATUS: %s", r.stdout)
	}
	if r := runPlugin(t, "GC", "", d.socket, "1.1.0", nil); r.exitCode != 0 {
		t.Fatalf("GC: %s", r.stdout)
	}

	if got := histogramCount(t, d.reg, "kuryr_cni_request_duration_seconds", "ADD", "success"); got != 3 {
		t.Fatalf("ADD success observations: %d", got)
	}
	if got := histogramCount(t, d.reg, "kuryr_cni_request_duration_seconds", "DEL", "success"); got != 2 {
		t.Fatalf("DEL success observations: %d", got)
	}
}

// histogramCount returns the sample count of the series with labels command and result.
func histogramCount(t *testing.T, g prometheus.Gatherer, name, command, result string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["command"] == command && labels["result"] == result {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func TestPluginBinaryErrors(t *testing.T) {
	f := newFixture(SignalAny)
	f.svc.Opts.VIFTimeout = 300 * time.Millisecond
	d := startDaemon(t, f)
	netns := "/var/run/netns/kuryr-test-absent"

	// No KuryrPort yet: try again later after the VIF timeout.
	if r := runPlugin(t, "ADD", netns, d.socket, "1.0.0", nil); r.exitCode == 0 || r.errorCode(t) != 11 {
		t.Fatalf("ADD without VIF: %s", r.stdout)
	}
	// The failed ADD is a Warning Event on the pod.
	if ev := d.recorded.list(); len(ev) != 1 || !strings.Contains(ev[0], "default/pod1 "+testUID+" Warning CNIAddFailed") ||
		!strings.Contains(ev[0], "try_again_later") {
		t.Fatalf("events after a timed-out ADD: %q", ev)
	}
	// The pod does not exist: clear error, and no Event (there is no pod to put it on).
	delete(f.pods, "default/pod1")
	r := runPlugin(t, "ADD", netns, d.socket, "1.0.0", nil)
	if r.exitCode == 0 || r.errorCode(t) != 3 || !strings.Contains(string(r.stdout), "pod default/pod1 does not exist") {
		t.Fatalf("ADD of missing pod: %s", r.stdout)
	}
	if ev := d.recorded.list(); len(ev) != 1 {
		t.Fatalf("an ADD for a missing pod posted an Event: %q", ev)
	}
	// Not ready: ADD is try-again-later, STATUS is plugin-not-available.
	d.ready = errors.New("bridge br-int does not exist")
	if r := runPlugin(t, "ADD", netns, d.socket, "1.0.0", nil); r.errorCode(t) != 11 {
		t.Fatalf("ADD while not ready: %s", r.stdout)
	}
	if r := runPlugin(t, "STATUS", "", d.socket, "1.1.0", nil); r.errorCode(t) != 50 {
		t.Fatalf("STATUS while not ready: %s", r.stdout)
	}
	// Daemon gone: try again later.
	d.stop()
	if r := runPlugin(t, "ADD", netns, d.socket, "1.0.0", nil); r.errorCode(t) != 11 {
		t.Fatalf("ADD with daemon down: %s", r.stdout)
	}
	if r := runPlugin(t, "DEL", netns, d.socket, "1.0.0", nil); r.errorCode(t) != 11 {
		t.Fatalf("DEL with daemon down: %s", r.stdout)
	}
}

func TestEventsRing(t *testing.T) {
	e := NewEvents(3)
	for i := 0; i < 5; i++ {
		e.Add(Event{Command: "ADD", Pod: fmt.Sprint(i)})
	}
	got := e.List()
	if len(got) != 3 || got[0].Pod != "2" || got[2].Pod != "4" {
		t.Fatalf("ring kept %+v, want pods 2,3,4", got)
	}
	var nilEvents *Events
	nilEvents.Add(Event{}) // a server without events must not panic
}
