// Package bench measures how fast pods get networking: a burst of pods through the real
// kubelet (with kuryr-go or with a plain bridge CNI as the floor), the raw Neutron port-create
// rate, and the local plug time. Results are JSON files that `report` turns into a table and plots.
package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"time"
)

// Stages of a pod's life the burst records, in order.
const (
	StageScheduled   = "scheduled"    // the pod has a node (the benchmark's watch sees spec.nodeName)
	StagePortCreated = "port_created" // Neutron created_at (one-second resolution)
	StageVIFRecorded = "vif_recorded" // the VIF appears in the KuryrPort status
	StageCNICalled   = "cni_called"   // the runtime called CNI ADD (the node's own part before it)
	StageCNIAdded    = "cni_added"    // the node daemon returned the CNI ADD result
	StagePortActive  = "port_active"  // the KuryrPort VIF is marked active
	StageReady       = "ready"        // the pod is Ready: what users see
)

// Stages lists the stages in report order.
var Stages = []string{StageScheduled, StagePortCreated, StageVIFRecorded, StageCNICalled, StageCNIAdded, StagePortActive, StageReady}

// PodSample is one pod of a burst; stage values are seconds since the create request was sent.
type PodSample struct {
	Name    string             `json:"name"`
	UID     string             `json:"uid,omitempty"`
	Created time.Time          `json:"created"`
	Stages  map[string]float64 `json:"stages"`
	// Gone is the time from the burst's delete request until the pod object was gone.
	Gone float64 `json:"goneSeconds,omitempty"`
}

// Process is the resource use of one of our processes during a run.
type Process struct {
	Name       string  `json:"name"`
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpuSeconds"`
	PeakRSSMiB float64 `json:"peakRssMiB"`
}

// BurstResult is one burst of pods in one mode.
type BurstResult struct {
	Kind          string    `json:"kind"` // "burst"
	Mode          string    `json:"mode"` // kuryr, kuryr-pools, bridge
	Pods          int       `json:"pods"`
	Start         time.Time `json:"start"`
	AllReady      float64   `json:"allReadySeconds"`
	PodsPerSecond float64   `json:"podsPerSecond"`
	DeleteSummary
	// PortReleases is, per Neutron port the burst used, the time from the delete request
	// until it was seen released (kuryr modes).
	PortReleases []float64          `json:"portReleasedSeconds,omitempty"`
	Samples      []PodSample        `json:"samples"`
	Summary      map[string]Summary `json:"summary"`
	NeutronCalls map[string]float64 `json:"neutronCalls,omitempty"` // operation/result -> count during the run
	Processes    []Process          `json:"processes,omitempty"`
	// CPU is where the machine's CPU went from the first create until all pods were Ready.
	CPU            *CPUUse           `json:"cpu,omitempty"`
	FailedPods     []string          `json:"failedPods,omitempty"`
	ConfigSnapshot map[string]string `json:"config,omitempty"`
}

// DeleteSummary is the delete phase of a burst: once all its pods were Ready, they were
// deleted with one request (grace period DeleteGraceSeconds in every mode). Seconds count
// from that request.
type DeleteSummary struct {
	DeleteGraceSeconds int64 `json:"delete_grace_seconds"`
	// Until each pod object was gone: median, 99th percentile and the last one.
	DeleteP50  float64 `json:"delete_p50"`
	DeleteP99  float64 `json:"delete_p99"`
	DeleteLast float64 `json:"delete_last"`
	// PodsLeft is the number of pod objects not gone within the wait.
	PodsLeft int `json:"pods_left"`
	// The Neutron ports the burst used (kuryr modes only): how many, when the last one was
	// released (deleted, or back in its pool; unset while any is left) and how many were not
	// released within the bounded wait.
	Ports             int      `json:"ports,omitempty"`
	PortsReleasedLast *float64 `json:"ports_released_last,omitempty"`
	PortsLeft         *int     `json:"ports_left,omitempty"`
}

// DeleteGraceSeconds is the grace period of a burst's delete, the same in every mode. Not 0:
// on a zero grace period the API server removes a pod without finalizers at once (a forced
// delete), before its kubelet has even stopped it, and the bridge floor would measure the
// API server alone. With 1 s a pod object goes as on any ordinary delete: once the kubelet
// has stopped its containers (it gives them at least 2 s) and the runtime has torn down its
// sandbox (CNI DEL).
const DeleteGraceSeconds = 1

// goneValues returns the gone times of the samples that have one.
func goneValues(samples []PodSample) []float64 {
	var gone []float64
	for _, s := range samples {
		if s.Gone > 0 {
			gone = append(gone, s.Gone)
		}
	}
	return gone
}

// setPods fills the pod part of d from the samples' gone times.
func (d *DeleteSummary) setPods(samples []PodSample) {
	gone := goneValues(samples)
	st := Summarize(gone)
	d.DeleteGraceSeconds = DeleteGraceSeconds
	d.DeleteP50, d.DeleteP99, d.DeleteLast = st.P50, st.P99, st.Max
	d.PodsLeft = len(samples) - len(gone)
}

// setPorts fills the port part of d from the release times of the ports released and the
// number of those that were not.
func (d *DeleteSummary) setPorts(released []float64, left int) {
	d.Ports, d.PortsLeft, d.PortsReleasedLast = len(released)+left, &left, nil
	if left == 0 {
		last := Summarize(released).Max
		d.PortsReleasedLast = &last
	}
}

// PodsGoneWithin is the acceptance check of the delete phase: the last pod object of a
// burst is gone within twice the bridge floor's time plus one second.
func PodsGoneWithin(last, bridgeLast float64) bool { return last <= 2*bridgeLast+1 }

// NeutronResult is the raw Neutron port-create reference.
type NeutronResult struct {
	Kind        string  `json:"kind"` // "neutron"
	Ports       int     `json:"ports"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"perSecond"`
	Latency     Summary `json:"latency"`
	BulkPorts   int     `json:"bulkPorts,omitempty"`
	BulkSeconds float64 `json:"bulkSeconds,omitempty"`
}

// PlugResult is the local plug reference (veth + OVS add-port + netns config, no agent wait).
type PlugResult struct {
	Kind    string  `json:"kind"` // "plug"
	Count   int     `json:"count"`
	Latency Summary `json:"latency"`
	Unplug  Summary `json:"unplug"`
}

// Summary holds order statistics in seconds.
type Summary struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Summarize computes order statistics (nearest-rank) of xs.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return Summary{N: len(s), P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: s[len(s)-1], Mean: sum / float64(len(s))}
}

// stageValues returns the values of one stage over the samples that have it.
func stageValues(samples []PodSample, stage string) []float64 {
	var xs []float64
	for _, s := range samples {
		if v, ok := s.Stages[stage]; ok {
			xs = append(xs, v)
		}
	}
	return xs
}

// CNIAddDuration is the summary key of the time from the runtime's CNI ADD call to its
// result (not since the create: the part of the wait that is the CNI plugin's).
const CNIAddDuration = "cni_add_duration"

// summarizeStages computes the summary of every stage present in samples, and the CNI ADD
// duration where both of its ends are known.
func summarizeStages(samples []PodSample) map[string]Summary {
	out := map[string]Summary{}
	for _, st := range Stages {
		if xs := stageValues(samples, st); len(xs) > 0 {
			out[st] = Summarize(xs)
		}
	}
	var durations []float64
	for _, s := range samples {
		called, ok1 := s.Stages[StageCNICalled]
		added, ok2 := s.Stages[StageCNIAdded]
		if ok1 && ok2 {
			durations = append(durations, added-called)
		}
	}
	if len(durations) > 0 {
		out[CNIAddDuration] = Summarize(durations)
	}
	return out
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// WriteJSON writes v to path.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
