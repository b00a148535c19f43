// Command kuryr-daemon is the node daemon of kuryr-go: it watches the KuryrPorts of its node
// and plugs pods into Open vSwitch when the kuryr-cni plugin asks it to.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kuryr-go/kuryr-go/pkg/cni/config"
	"github.com/kuryr-go/kuryr-go/pkg/cni/daemon"
	"github.com/kuryr-go/kuryr-go/pkg/cni/kpsource"
	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
	"github.com/kuryr-go/kuryr-go/pkg/cni/parking"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug"
	"github.com/kuryr-go/kuryr-go/pkg/kubeclient"
)

func init() {
	// Namespace switches happen in ns.Do on locked threads; keep main on its own thread too.
	runtime.LockOSThread()
}

func main() {
	cfg, err := config.Load(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kuryr-daemon:", err)
		os.Exit(2)
	}
	if os.Getenv("GOMEMLIMIT") == "" && cfg.MemoryLimitMiB > 0 {
		debug.SetMemoryLimit(int64(cfg.MemoryLimitMiB) << 20)
	}
	log := funcr.NewJSON(func(obj string) { fmt.Fprintln(os.Stderr, obj) },
		funcr.Options{LogTimestamp: true, Verbosity: cfg.Verbosity})
	ctrllog.SetLogger(log)
	klog.SetLogger(log.WithName("client-go"))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err = run(logr.NewContext(ctx, log), cfg, log)
	stop()
	if err != nil {
		log.Error(err, "Daemon failed")
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg *config.Config, log logr.Logger) error {
	log.Info("Starting kuryr-daemon", "node", cfg.NodeName, "socket", cfg.SocketPath, "bridge", cfg.Bridge,
		"vifTimeout", cfg.VIFTimeout.String(), "activeTimeout", cfg.ActiveTimeout.String(), "activeSignal", cfg.ActiveSignal)
	restCfg, err := kubeclient.RestConfig(cfg.Kubeconfig, cfg.Kubernetes)
	if err != nil {
		return fmt.Errorf("loading the Kubernetes client configuration: %w", err)
	}
	if restCfg.Insecure {
		log.Info(kubeclient.InsecureWarning)
	}
	ovsClient := &ovs.Client{Runner: ovs.ExecRunner{}, Binary: cfg.OVSVsctl, Timeout: cfg.OVSTimeout, DB: cfg.OVSDB}
	plugger := &plug.Plugger{Switch: ovsClient, Bridge: cfg.Bridge}

	// What is plugged survives in OVS: read it back and drop only ports whose pod is gone.
	if plugged, err := plugger.Recover(ctx, ovsClient); err != nil {
		log.Error(err, "Recovering plugged ports from OVS failed")
	} else {
		stale := 0
		for _, p := range plugged {
			if p.Stale {
				stale++
			}
		}
		log.Info("Recovered plugged ports from OVS", "ports", len(plugged), "staleRemoved", stale)
	}

	src, err := kpsource.New(restCfg, cfg.NodeName)
	if err != nil {
		return err
	}
	var synced atomic.Bool
	health := &daemon.Health{CacheFor: time.Second, Checks: []daemon.Check{
		{Name: "kuryrport-cache", Func: func(context.Context) error {
			if !synced.Load() {
				return errors.New("KuryrPort cache not synced yet")
			}
			return nil
		}},
		{Name: "ovs-bridge", Func: func(ctx context.Context) error {
			ok, err := ovsClient.BridgeExists(ctx, cfg.Bridge)
			if err == nil && !ok {
				err = fmt.Errorf("bridge %s does not exist", cfg.Bridge)
			}
			return err
		}},
		{Name: "api-server", Func: src.APIHealthy},
	}}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := daemon.DefaultOptions()
	opts.VIFTimeout, opts.ActiveTimeout, opts.ActiveSignal = cfg.VIFTimeout, cfg.ActiveTimeout, cfg.ActiveSignal
	svc := &daemon.Service{Ports: src, Pods: src, Plugger: plugger, Bridge: cfg.Bridge,
		Tags: &ovs.TagSnapshot{Client: ovsClient, MaxAge: opts.PollInterval}, Opts: opts, Metrics: daemon.NewMetrics(reg)}
	events := daemon.NewEvents(2048)
	recorder := src.NewRecorder(cfg.NodeName)
	server := &daemon.Server{Service: svc, Ready: health.Ready, Log: log.WithName("cni"), Events: events,
		Recorder: recorder}

	errc := make(chan error, 4)
	healthMux := http.NewServeMux()
	healthMux.Handle("/", health.HealthHandler())
	healthMux.Handle("GET /debug/cni", events) // recent CNI requests with their timings
	serveHTTP(ctx, log, "health", cfg.HealthAddr, healthMux, errc)
	serveHTTP(ctx, log, "metrics", cfg.MetricsAddr, daemon.MetricsHandler(reg), errc)

	l, err := daemon.Listen(cfg.SocketPath)
	if err != nil {
		return err
	}
	go func() { errc <- server.Serve(ctx, l) }()
	go func() {
		if err := src.Start(ctx, errc); err != nil {
			health.SetDead(err.Error())
			errc <- err
			return
		}
		synced.Store(true)
		log.Info("KuryrPort cache synced")
		startParking(ctx, cfg, src, plugger, ovsClient, reg, recorder, log, errc)
	}()

	select {
	case <-ctx.Done():
		log.Info("Shutting down")
		return nil
	case err := <-errc:
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
}

// startParking runs the loop that plugs the node's free pool ports ahead of their pods.
func startParking(ctx context.Context, cfg *config.Config, src *kpsource.Source, plugger *plug.Plugger,
	ovsClient *ovs.Client, reg prometheus.Registerer, rec *kpsource.Recorder, log logr.Logger, errc chan<- error) {
	if !cfg.ParkPoolPorts {
		log.Info("Parking of pool ports disabled")
		return
	}
	if err := src.PoolUnavailable(); err != nil {
		log.Info("Pool ports are not parked: the KuryrPortPool resource cannot be watched (install deploy/crds)", "error", err.Error())
		return
	}
	m := &parking.Manager{Source: src, Parker: plugger, Lister: ovsClient, Grace: cfg.ParkGrace,
		Metrics: parking.NewMetrics(reg), Log: log.WithName("parking"),
		Event: func(reason, msg string) { rec.PoolEvent(cfg.NodeName, corev1.EventTypeWarning, reason, msg) }}
	go func() {
		if err := m.Run(ctx); err != nil {
			errc <- fmt.Errorf("parking pool ports: %w", err)
		}
	}()
}

func serveHTTP(ctx context.Context, log logr.Logger, name, addr string, h http.Handler, errc chan<- error) {
	if addr == "" {
		log.Info("Not serving: no address", "server", name)
		return
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		log.Info("Serving", "server", name, "addr", addr)
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serving %s on %s: %w", name, addr, err)
		}
	}()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
}
