// Package metrics defines the controller's Prometheus metrics. They are registered with
// controller-runtime's registry, which also carries the work-queue and reconcile metrics,
// and are served on [prometheus_exporter] controller_exporter_port.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Stages of the pod-to-port latency histogram.
const (
	StageRecorded = "recorded" // the port is written to KuryrPort status
	StageActive   = "active"   // Neutron reports the port ACTIVE
)

var (
	// PodPortLatency measures from pod creation to the port being recorded and to it being ACTIVE.
	PodPortLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kuryr_pod_port_latency_seconds",
		Help:    "Time from pod creation until its Neutron port is recorded (stage=recorded) or ACTIVE (stage=active).",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180},
	}, []string{"stage"})

	// OpenStackCalls counts OpenStack API calls by operation and result class.
	OpenStackCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kuryr_openstack_api_calls_total",
		Help: "OpenStack API calls by operation and result (success or the error class).",
	}, []string{"operation", "result"})

	// OpenStackLatency measures OpenStack API calls by operation and result class.
	OpenStackLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kuryr_openstack_api_duration_seconds",
		Help:    "Duration of OpenStack API calls by operation and result.",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30},
	}, []string{"operation", "result"})

	// PortsManaged is the number of Neutron ports the controller currently manages for pods.
	PortsManaged = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kuryr_ports_managed",
		Help: "Neutron ports recorded in KuryrPorts (set by each sweep, adjusted on create and delete).",
	})

	// OrphansDeleted counts ports deleted by the orphan sweep.
	OrphansDeleted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kuryr_orphan_ports_deleted_total",
		Help: "Ports tagged with this cluster that belonged to no pod and were deleted by the sweep.",
	})

	// PoolPorts is the number of free ports per pool.
	PoolPorts = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kuryr_pool_ports",
		Help: "Free Neutron ports in each port pool (vif_pool_driver = neutron).",
	}, []string{"node", "network", "security_groups"})

	// PoolRequests counts port requests served from a pool (hit) or by a direct create (miss).
	PoolRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kuryr_pool_requests_total",
		Help: "Pod port requests by result: hit (a free pool port) or miss (a port created for the pod).",
	}, []string{"result"})

	// PoolRefills counts the bulk creates that refill pools, by result class.
	PoolRefills = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kuryr_pool_refills_total",
		Help: "Pool refills (one bulk port create each) by result: success or the error class.",
	}, []string{"result"})
)

func init() {
	crmetrics.Registry.MustRegister(PodPortLatency, OpenStackCalls, OpenStackLatency, PortsManaged, OrphansDeleted,
		PoolPorts, PoolRequests, PoolRefills)
}

// ObserveOpenStackCall records one OpenStack API call.
func ObserveOpenStackCall(operation, result string, d time.Duration) {
	OpenStackCalls.WithLabelValues(operation, result).Inc()
	OpenStackLatency.WithLabelValues(operation, result).Observe(d.Seconds())
}

// ObservePodLatency records the time since a pod was created for one stage.
func ObservePodLatency(stage string, podCreated time.Time) {
	if podCreated.IsZero() {
		return
	}
	PodPortLatency.WithLabelValues(stage).Observe(time.Since(podCreated).Seconds())
}
