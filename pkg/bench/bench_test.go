package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
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
			b.Samples = append(b.Samples, PodSample{Name: fmt.Sprint(i), Created: start, Stages: map[string]float64{StageReady: r, StageCNIAdded: r / 2}})
		}
		b.Summary = summarizeStages(b.Samples)
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
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ratio %s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if err := r.Plot(dir); err != nil {
		t.Fatalf("Plot: %v", err)
	}
	for _, f := range []string{"latency-cdf.png", "timeline.png"} {
		if m, _ := filepath.Glob(filepath.Join(dir, f)); len(m) != 1 {
			t.Errorf("%s not written", f)
		}
	}
}
