package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one named readiness condition.
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// Health aggregates readiness checks and a liveness flag.
type Health struct {
	Checks []Check
	// Timeout bounds one readiness evaluation.
	Timeout time.Duration
	// CacheFor reuses a readiness answer for this long (ADD checks readiness on every call).
	CacheFor time.Duration
	dead     atomic.Pointer[string]

	mu      sync.Mutex
	checked time.Time
	last    error
}

// SetDead marks the daemon as not alive (a component stopped); the liveness probe fails.
func (h *Health) SetDead(reason string) { h.dead.Store(&reason) }

// Alive returns nil while no component has died.
func (h *Health) Alive() error {
	if r := h.dead.Load(); r != nil {
		return errors.New(*r)
	}
	return nil
}

// Ready runs every check (or returns the answer of the last run within CacheFor).
func (h *Health) Ready(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.CacheFor > 0 && time.Since(h.checked) < h.CacheFor {
		return h.last
	}
	h.last = h.ready(ctx)
	h.checked = time.Now()
	return h.last
}

func (h *Health) ready(ctx context.Context) error {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var errs []error
	for _, c := range h.Checks {
		if err := c.Func(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		}
	}
	if err := h.Alive(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// HealthHandler serves /ready and /alive (kuryr's [cni_health_server] paths).
func (h *Health) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		probe(w, h.Ready(r.Context()))
	})
	mux.HandleFunc("GET /alive", func(w http.ResponseWriter, _ *http.Request) {
		probe(w, h.Alive())
	})
	return mux
}

// MetricsHandler serves /metrics from g.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	return mux
}

func probe(w http.ResponseWriter, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}
