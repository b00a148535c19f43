package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	xs := make([]float64, 100)
	for i := range xs {
		xs[i] = float64(100 - i) // 100..1, unsorted on purpose
	}
	s := Summarize(xs)
	if s.N != 100 || s.P50 != 50 || s.P90 != 90 || s.P99 != 99 || s.Max != 100 || s.Mean != 50.5 {
		t.Fatalf("Summarize = %+v", s)
	}
	if got := Summarize(nil); got.N != 0 {
		t.Fatalf("Summarize(nil) = %+v", got)
	}
	if got := Summarize([]float64{3}); got.P50 != 3 || got.P99 != 3 {
		t.Fatalf("Summarize([3]) = %+v", got)
	}
}

func TestScrapeCounterAndDiff(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n++
		fmt.Fprintf(w, "# HELP kuryr_openstack_api_calls_total x\n")
		fmt.Fprintf(w, "kuryr_openstack_api_calls_total{operation=\"create port\",result=\"success\"} %d\n", 10*n)
		fmt.Fprintf(w, "kuryr_openstack_api_calls_total{operation=\"get port\",result=\"success\"} 7\n")
		fmt.Fprintf(w, "kuryr_other_total{operation=\"create port\"} 99\n")
	}))
	defer srv.Close()
	before, err := ScrapeCounter(context.Background(), srv.URL, "kuryr_openstack_api_calls_total", "operation", "result")
	if err != nil {
		t.Fatal(err)
	}
	after, err := ScrapeCounter(context.Background(), srv.URL, "kuryr_openstack_api_calls_total", "operation", "result")
	if err != nil {
		t.Fatal(err)
	}
	d := Diff(before, after)
	if len(d) != 1 || d["create port/success"] != 10 {
		t.Fatalf("Diff = %v (before %v, after %v)", d, before, after)
	}
}

func TestReportRatiosAndPlots(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	mk := func(mode string, ready ...float64) BurstResult {
		b := BurstResult{Kind: "burst", Mode: mode, Pods: len(ready), Start: start}
		for i, r := range ready {
			b.Samples = append(b.Samples, PodSample{Name: fmt.Sprint(i), Created: start, Stages: map[string]float64{StageReady: r, StageCNIAdded: r / 2},
				Gone: 2 * r})
		}
		b.Summary = summarizeStages(b.Samples)
		b.setPods(b.Samples)
		b.AllReady = ready[len(ready)-1]
		b.PodsPerSecond = float64(len(ready)) / b.AllReady
		return b
	}
	for name, v := range map[string]any{
		"bridge.json":  mk("bridge", 0.5, 1),
		"kuryr.json":   mk("kuryr", 1, 2),
		"neutron.json": NeutronResult{Kind: "neutron", Ports: 10, PerSecond: 2},
		"plug.json":    PlugResult{Kind: "plug", Count: 3, Latency: Summary{P50: 0.25}},
	} {
		if err := WriteJSON(filepath.Join(dir, name), v); err != nil {
			t.Fatal(err)
		}
	}
	r, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := r.Ratios()
	want := map[string]float64{
		"kuryr/all_ready_vs_bridge":                2,
		"kuryr/pods_per_second_vs_neutron_creates": 0.5,
		"kuryr/cni_add_p50_vs_local_plug_p50":      2, // CNI ADD p50 0.5 (nearest rank of 0.5, 1) / 0.25
		"kuryr/pods_gone_vs_bridge":                2, // last pod gone 4 / 2
	}
	if c := r.Checks(); len(c) != 1 || !c["kuryr"+CheckPodsGone] { // 4 <= 2*2 + 1
		t.Errorf("checks %v", c)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ratio %s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if err := r.Plot(dir); err != nil {
		t.Fatalf("Plot: %v", err)
	}
	for _, f := range []string{"latency-cdf.png", "delete-cdf.png", "timeline.png"} {
		if m, _ := filepath.Glob(filepath.Join(dir, f)); len(m) != 1 {
			t.Errorf("%s not written", f)
		}
	}
}

func TestGroupOf(t *testing.T) {
	cases := []struct {
		comm string
		args []string
		want string
	}{
		{"kuryr-controller", []string{"/var/lib/kuryr-testbed/bin/kuryr-controller", "--config", "x"}, GroupKuryr},
		{"kuryr-cni", []string{"/opt/cni/bin/kuryr-cni"}, GroupKuryr},
		{"neutron-server", []string{"/usr/bin/python3", "/usr/bin/neutron-server", "--config-file", "a"}, GroupNeutronAPI},
		{"neutron-server:", []string{"neutron-server: rpc worker (/usr/bin/python3 /usr/bin/neutron-server)"}, GroupNeutronRPC},
		// process titles (setproctitle): the whole command line is one string
		{"/usr/bin/python", []string{"/usr/bin/python3 /usr/bin/neutron-server --config-file /x/neutron.conf"}, GroupNeutronAPI},
		{"neutron-openvsw", []string{"neutron-openvswitch-agent (/usr/bin/python3 /usr/bin/neutron-openvswitch-agent --config-file /x)"}, GroupNeutronAgents},
		{"neutron-l3-agen", []string{"neutron-l3-agent (/usr/bin/python3 /usr/bin/neutron-l3-agent)"}, GroupNeutronAgents},
		{"neutron-openvsw", []string{"/usr/bin/python3", "/usr/bin/neutron-openvswitch-agent"}, GroupNeutronAgents},
		{"privsep-helper", []string{"/usr/bin/python3", "/usr/bin/privsep-helper", "--config-file"}, GroupNeutronAgents},
		{"postgres", []string{"postgres: postgres neutron 127.0.0.1(40050) idle"}, GroupPostgres},
		{"postgres", []string{"/usr/lib/postgresql/15/bin/postgres", "-D", "/x"}, GroupPostgres},
		{"ovs-vswitchd", []string{"ovs-vswitchd", "unix:/x"}, GroupOVS},
		{"beam.smp", []string{"/usr/lib/erlang/erts-12/bin/beam.smp", "-W"}, GroupRabbit},
		{"kube-apiserver", []string{"/var/cache/kuryr-go/bin/kube-apiserver", "--etcd"}, GroupKube},
		{"kubelet", []string{"/x/kubelet"}, GroupKube},
		{"containerd-shim", []string{"/usr/bin/containerd-shim-runc-v2", "-namespace"}, GroupRuntime},
		{"sleep", []string{"sleep", "3600"}, GroupRuntime},
		{"octavia-worker:", []string{"octavia-worker: master process [/usr/bin/octavia-worker]"}, GroupOctavia},
		{"kuryrctl", []string{"/x/kuryrctl", "bench", "pods"}, GroupBench},
		{"bash", []string{"/bin/bash"}, GroupOther},
	}
	for _, c := range cases {
		if got := groupOf(c.comm, c.args); got != c.want {
			t.Errorf("groupOf(%q, %q) = %q, want %q", c.comm, c.args, got, c.want)
		}
	}
}

func TestCPUUseCountsDifferencesNewProcessesAndTheRest(t *testing.T) {
	a := &cpuSnapshot{at: time.Unix(100, 0), busy: 50, procs: map[int]procCPU{
		1: {start: 10, group: GroupKuryr, cpu: 3},
		2: {start: 20, group: GroupPostgres, cpu: 7},
		3: {start: 30, group: GroupKube, cpu: 1}, // ends before b
	}}
	b := &cpuSnapshot{at: time.Unix(110, 0), busy: 65, procs: map[int]procCPU{
		1: {start: 10, group: GroupKuryr, cpu: 4},    // +1
		2: {start: 99, group: GroupRuntime, cpu: 2},  // pid reused: counted whole
		4: {start: 40, group: GroupPostgres, cpu: 5}, // new
	}}
	u := cpuUse(a, b)
	want := map[string]float64{GroupKuryr: 1, GroupRuntime: 2, GroupPostgres: 5, GroupOther: 7}
	if u.Seconds != 10 || u.Busy != 15 || u.Cores() != 1.5 {
		t.Errorf("window %v s, busy %v s, cores %v", u.Seconds, u.Busy, u.Cores())
	}
	for g, s := range want {
		if u.Groups[g] != s {
			t.Errorf("group %s = %v, want %v (all: %v)", g, u.Groups[g], s, u.Groups)
		}
	}
	if s := u.Sorted(); s[0].Group != GroupOther || s[len(s)-1].Group != GroupKuryr {
		t.Errorf("sorted = %v", s)
	}
}

func TestCPUSnapshotSeesThisProcess(t *testing.T) {
	s, err := takeCPUSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	p, ok := s.procs[os.Getpid()]
	if !ok || p.cpu <= 0 || s.busy <= 0 {
		t.Fatalf("own process %+v (found %v), machine busy %v s", p, ok, s.busy)
	}
}
