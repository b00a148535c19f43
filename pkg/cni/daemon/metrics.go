package daemon

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the daemon's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	requests *prometheus.HistogramVec
	phases   *prometheus.HistogramVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kuryr_cni_request_duration_seconds",
			Help:    "Duration of CNI requests served by the daemon, by command and result.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 90, 120, 180},
		}, []string{"command", "result"}),
		phases: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kuryr_cni_add_phase_duration_seconds",
			Help:    "Duration of the phases of a successful ADD: vif (wait for the KuryrPort), plug, active (wait for wiring).",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"phase"}),
	}
	reg.MustRegister(m.requests, m.phases)
	return m
}

func (m *Metrics) observeRequest(cmd string, err error, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(cmd, resultLabel(err)).Observe(d.Seconds())
}

func (m *Metrics) observePhase(phase string, d time.Duration) {
	if m == nil {
		return
	}
	m.phases.WithLabelValues(phase).Observe(d.Seconds())
}
