package bench

import (
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Results is everything found in a result directory.
type Results struct {
	Bursts  []BurstResult  `json:"bursts"`
	Neutron *NeutronResult `json:"neutron,omitempty"`
	Plug    *PlugResult    `json:"plug,omitempty"`
	Wired   *WiredResult   `json:"wired,omitempty"`
}

// LoadDir reads every *.json result file of dir (except a previous summary).
func LoadDir(dir string) (*Results, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	r := &Results{}
	for _, f := range files {
		if filepath.Base(f) == "summary.json" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var kind struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(b, &kind); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		switch kind.Kind {
		case "burst":
			var br BurstResult
			if err := json.Unmarshal(b, &br); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			r.Bursts = append(r.Bursts, br)
		case "neutron":
			r.Neutron = &NeutronResult{}
			if err := json.Unmarshal(b, r.Neutron); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
		case "plug":
			r.Plug = &PlugResult{}
			if err := json.Unmarshal(b, r.Plug); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
		case "wired":
			r.Wired = &WiredResult{}
			if err := json.Unmarshal(b, r.Wired); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
		}
	}
	sort.Slice(r.Bursts, func(i, j int) bool { return r.Bursts[i].Mode < r.Bursts[j].Mode })
	return r, nil
}

func (r *Results) burst(mode string) *BurstResult {
	for i := range r.Bursts {
		if r.Bursts[i].Mode == mode {
			return &r.Bursts[i]
		}
	}
	return nil
}

// Ratios compares our figures with the references measured in the same run.
func (r *Results) Ratios() map[string]float64 {
	out := map[string]float64{}
	bridge := r.burst("bridge")
	for _, b := range r.Bursts {
		if b.Mode == "bridge" {
			continue
		}
		if bridge != nil && bridge.AllReady > 0 {
			out[b.Mode+"/all_ready_vs_bridge"] = b.AllReady / bridge.AllReady
		}
		if bridge != nil && bridge.DeleteLast > 0 && b.DeleteLast > 0 {
			out[b.Mode+"/pods_gone_vs_bridge"] = b.DeleteLast / bridge.DeleteLast
		}
		if r.Neutron != nil && r.Neutron.PerSecond > 0 {
			out[b.Mode+"/pods_per_second_vs_neutron_creates"] = b.PodsPerSecond / r.Neutron.PerSecond
		}
		if r.Wired != nil && r.Wired.PerSecond > 0 {
			out[b.Mode+"/pods_per_second_vs_neutron_wired"] = b.PodsPerSecond / r.Wired.PerSecond
		}
		if s, ok := b.Summary[StageCNIAdded]; ok && r.Plug != nil && r.Plug.Latency.P50 > 0 {
			out[b.Mode+"/cni_add_p50_vs_local_plug_p50"] = s.P50 / r.Plug.Latency.P50
		}
	}
	return out
}

// CheckPodsGone is the key suffix of the delete phase's acceptance check in Checks.
const CheckPodsGone = "/pods_gone_last_within_2x_bridge_plus_1s"

// Checks returns the acceptance checks of the run: for each mode, whether the last pod object
// of its burst was gone within twice the bridge floor's time plus one second (false if any
// pod object was left).
func (r *Results) Checks() map[string]bool {
	out := map[string]bool{}
	bridge := r.burst("bridge")
	if bridge == nil || bridge.DeleteLast <= 0 || bridge.PodsLeft > 0 {
		return out
	}
	for _, b := range r.Bursts {
		if b.Mode != "bridge" && b.DeleteGraceSeconds > 0 {
			out[b.Mode+CheckPodsGone] = b.PodsLeft == 0 && PodsGoneWithin(b.DeleteLast, bridge.DeleteLast)
		}
	}
	return out
}

// DeleteSummaries returns the delete phase of each mode.
func (r *Results) DeleteSummaries() map[string]DeleteSummary {
	out := map[string]DeleteSummary{}
	for _, b := range r.Bursts {
		out[b.Mode] = b.DeleteSummary
	}
	return out
}

// PrintTable writes the short human-readable report.
func (r *Results) PrintTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "mode\tpods\tstage (s since create)\tp50\tp90\tp99\tmax")
	for _, b := range r.Bursts {
		for _, st := range append(slices.Clone(Stages), CNIAddDuration) {
			s, ok := b.Summary[st]
			if !ok {
				continue
			}
			label := st
			if st == CNIAddDuration {
				label = "cni_add_duration (call to result)"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%.2f\t%.2f\t%.2f\t%.2f\n", b.Mode, b.Pods, label, s.P50, s.P90, s.P99, s.Max)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "mode\tall Ready (s)\tpods/s\tpods gone p50/p99/last (s)\tports released (s)\tports left\tprocesses (CPU s, peak RSS MiB)\tNeutron calls")
	for _, b := range r.Bursts {
		var procs, calls []string
		for _, p := range b.Processes {
			procs = append(procs, fmt.Sprintf("%s %.1f/%.0f", p.Name, p.CPUSeconds, p.PeakRSSMiB))
		}
		for k, v := range b.NeutronCalls {
			calls = append(calls, fmt.Sprintf("%s=%.0f", k, v))
		}
		sort.Strings(calls)
		released, left := "–", "–"
		if b.PortsReleasedLast != nil {
			released = fmt.Sprintf("%.2f", *b.PortsReleasedLast)
		}
		if b.PortsLeft != nil {
			left = fmt.Sprint(*b.PortsLeft)
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f/%.2f/%.2f\t%s\t%s\t%s\t%s\n", b.Mode, b.AllReady, b.PodsPerSecond,
			b.DeleteP50, b.DeleteP99, b.DeleteLast, released, left, strings.Join(procs, ", "), strings.Join(calls, " "))
	}
	tw.Flush()
	for _, b := range r.Bursts {
		if b.CPU == nil || b.CPU.Busy <= 0 {
			continue
		}
		parts := make([]string, 0, len(b.CPU.Groups))
		for _, g := range b.CPU.Sorted() {
			parts = append(parts, fmt.Sprintf("%s %.1f (%.0f%%)", g.Group, g.Seconds, 100*g.Seconds/b.CPU.Busy))
		}
		fmt.Fprintf(w, "CPU during the %s burst: %.1f s busy over %.1f s (%.2f cores): %s\n",
			b.Mode, b.CPU.Busy, b.CPU.Seconds, b.CPU.Cores(), strings.Join(parts, ", "))
	}
	if r.Neutron != nil {
		fmt.Fprintf(w, "\nraw Neutron: %d port creates, %d in flight: %.2f/s (latency p50 %.2fs, p99 %.2fs)",
			r.Neutron.Ports, r.Neutron.Concurrency, r.Neutron.PerSecond, r.Neutron.Latency.P50, r.Neutron.Latency.P99)
		if r.Neutron.BulkPorts > 0 {
			fmt.Fprintf(w, "; one bulk POST of %d ports: %.2fs", r.Neutron.BulkPorts, r.Neutron.BulkSeconds)
		}
		fmt.Fprintln(w)
	}
	if r.Wired != nil {
		fmt.Fprintf(w, "Neutron create + plug + wired by the agent (bare loop, no Kubernetes): %d ports, %d in flight: %.2f/s (create to wired p50 %.2fs, p99 %.2fs; create alone p50 %.2fs)\n",
			r.Wired.Ports, r.Wired.Concurrency, r.Wired.PerSecond, r.Wired.Latency.P50, r.Wired.Latency.P99, r.Wired.Create.P50)
	}
	if r.Plug != nil {
		fmt.Fprintf(w, "local plug (veth + OVS add-port + netns config): p50 %.3fs, p99 %.3fs over %d\n",
			r.Plug.Latency.P50, r.Plug.Latency.P99, r.Plug.Count)
	}
	ratios := r.Ratios()
	for _, k := range sortedKeys(ratios) {
		fmt.Fprintf(w, "ratio %s = %.2f\n", k, ratios[k])
	}
	checks := r.Checks()
	for _, k := range sortedKeys(checks) {
		fmt.Fprintf(w, "check %s = %v\n", k, checks[k])
	}
}

var palette = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255}, color.RGBA{R: 255, G: 127, B: 14, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255}, color.RGBA{R: 214, G: 39, B: 40, A: 255},
	color.RGBA{R: 148, G: 103, B: 189, A: 255}, color.RGBA{R: 140, G: 86, B: 75, A: 255},
}

// cdfSeries is one line of a CDF plot: its label and values.
type cdfSeries struct {
	label string
	xs    []float64
}

// plotCDF writes the CDF of each series, one line each, to path.
func plotCDF(path, title, xLabel, yLabel string, series []cdfSeries) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	for ci, s := range series {
		xs := append([]float64(nil), s.xs...)
		sort.Float64s(xs)
		pts := make(plotter.XYs, len(xs))
		for i, x := range xs {
			pts[i] = plotter.XY{X: x, Y: float64(i+1) / float64(len(xs))}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = palette[ci%len(palette)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.label, l)
	}
	p.X.Min, p.Y.Min, p.Y.Max = 0, 0, 1
	p.Legend.Top, p.Legend.Left = false, false
	p.Legend.YOffs = vg.Points(40)
	if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("saving the plot %s: %w", filepath.Base(path), err)
	}
	return nil
}

// Plot writes into dir latency-cdf.png (pod Ready and CNI ADD latency per mode),
// delete-cdf.png (per mode, each pod object gone and each Neutron port released after the
// delete request) and timeline.png (each pod of each burst from create to Ready).
func (r *Results) Plot(dir string) error {
	var latency, del []cdfSeries
	for _, b := range r.Bursts {
		for _, st := range []string{StageReady, StageCNIAdded} {
			if xs := stageValues(b.Samples, st); len(xs) > 0 {
				latency = append(latency, cdfSeries{fmt.Sprintf("%s %s (N=%d)", b.Mode, st, b.Pods), xs})
			}
		}
		if gone := goneValues(b.Samples); len(gone) > 0 {
			del = append(del, cdfSeries{fmt.Sprintf("%s pod gone (N=%d)", b.Mode, b.Pods), gone})
		}
		if len(b.PortReleases) > 0 {
			del = append(del, cdfSeries{fmt.Sprintf("%s port released (%d)", b.Mode, len(b.PortReleases)), b.PortReleases})
		}
	}
	if err := plotCDF(filepath.Join(dir, "latency-cdf.png"), "Pod latency CDF (seconds since create)",
		"seconds", "fraction of pods", latency); err != nil {
		return err
	}
	if len(del) > 0 { // results of a run without the delete phase have none
		if err := plotCDF(filepath.Join(dir, "delete-cdf.png"), "Delete CDF (seconds since the delete request)",
			"seconds", "fraction of pods or ports", del); err != nil {
			return err
		}
	}

	t := plot.New()
	t.Title.Text = "Burst timeline: each pod from create to Ready"
	t.X.Label.Text = "seconds since the burst started"
	t.Y.Label.Text = "pod (in creation order, one band per mode)"
	t.Add(plotter.NewGrid())
	base := 0
	for bi, b := range r.Bursts {
		ss := append([]PodSample(nil), b.Samples...)
		sort.Slice(ss, func(i, j int) bool { return ss[i].Created.Before(ss[j].Created) })
		first := true
		for i, s := range ss {
			ready, ok := s.Stages[StageReady]
			if !ok {
				continue
			}
			x0 := s.Created.Sub(b.Start).Seconds()
			y := float64(base + i)
			l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: y}, {X: x0 + ready, Y: y}})
			if err != nil {
				return err
			}
			l.Color = palette[bi%len(palette)]
			l.Width = vg.Points(1)
			t.Add(l)
			if first {
				t.Legend.Add(fmt.Sprintf("%s (N=%d)", b.Mode, b.Pods), l)
				first = false
			}
		}
		base += len(ss) + max(1, len(ss)/10) // a gap between the bands
	}
	t.X.Min, t.Y.Min = 0, 0
	t.Legend.Top = false // bottom right: the shortest band starts at the bottom left
	if err := t.Save(8*vg.Inch, 5*vg.Inch, filepath.Join(dir, "timeline.png")); err != nil {
		return fmt.Errorf("saving the timeline plot: %w", err)
	}
	return nil
}
