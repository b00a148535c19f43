package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/go-logr/logr"

	"github.com/kuryr-go/kuryr-go/pkg/cni/api"
)

// deadlineMargin is kept between the daemon's own deadline and the plugin's, so the daemon's
// answer (an error with a reason) arrives before the plugin gives up.
const deadlineMargin = 2 * time.Second

// maxRequest bounds a request body.
const maxRequest = 1 << 20

// Readiness reports whether the daemon can serve ADDs; nil means ready.
type Readiness func(ctx context.Context) error

// Server serves the plugin protocol.
type Server struct {
	Service *Service
	Ready   Readiness
	Log     logr.Logger
	// Events, when set, records every completed request.
	Events *Events
	// Recorder, when set, posts a Warning Event on the pod when an ADD fails.
	Recorder PodEventRecorder
}

// PodEventRecorder posts Kubernetes Events on pods.
type PodEventRecorder interface {
	PodEvent(namespace, name, uid, eventType, reason, message string)
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathCNI, s.serveCNI)
	mux.HandleFunc("GET "+api.PathStatus, s.serveStatus)
	return mux
}

// Listen creates the unix socket (root only, 0600), replacing a stale one.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating socket directory: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing stale socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("restricting socket %s: %w", path, err)
	}
	return l, nil
}

// Serve serves on l until ctx is done, then drains in-flight requests for up to 10 s.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving CNI requests: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

func (s *Server) serveCNI(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req api.Request
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeError(w, types.NewError(types.ErrDecodingFailure, "decoding the request", err.Error()))
		return
	}
	ctx := r.Context()
	if dl, ok := api.ParseDeadline(r.Header.Get(api.HeaderDeadline)); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-deadlineMargin))
		defer cancel()
	}
	log := s.Log.WithValues("command", req.Command, "ifName", req.IfName)
	ctx = logr.NewContext(ctx, log)

	result, err := s.dispatch(ctx, &req)
	s.Service.Metrics.observeRequest(req.Command, err, time.Since(start))
	ref, _ := ParseArgs(req.Args)
	s.Events.Add(Event{Command: req.Command, Pod: ref.String(), PodUID: ref.UID, ContainerID: req.ContainerID,
		Start: start, End: time.Now(), Result: resultLabel(err)})
	if err != nil && req.Command == api.CmdAdd && s.Recorder != nil && ref.Name != "" {
		if cerr := cniError(err); cerr.Code != types.ErrUnknownContainer { // no Event for a pod that does not exist
			s.Recorder.PodEvent(ref.Namespace, ref.Name, ref.UID, "Warning", "CNIAddFailed",
				fmt.Sprintf("kuryr-daemon could not network the pod (%s): %s", resultLabel(err), cerr.Error()))
		}
	}
	if err != nil {
		cerr := cniError(err)
		log.Error(err, "CNI request failed", "code", cerr.Code, "duration", time.Since(start).String(),
			"containerId", short(req.ContainerID), "args", req.Args)
		writeError(w, cerr)
		return
	}
	log.V(1).Info("CNI request done", "duration", time.Since(start).String(), "containerId", short(req.ContainerID))
	if result == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(result)
}

func (s *Server) dispatch(ctx context.Context, req *api.Request) ([]byte, error) {
	if err := validateRequest(req); err != nil {
		return nil, err
	}
	switch req.Command {
	case api.CmdAdd:
		if s.Ready != nil {
			if err := s.Ready(ctx); err != nil {
				return nil, tryAgain("kuryr daemon is not ready", err)
			}
		}
		res, err := s.Service.Add(ctx, req)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(res)
		if err != nil {
			return nil, fmt.Errorf("encoding the CNI result: %w", err)
		}
		return b, nil
	case api.CmdDel:
		return nil, s.Service.Del(ctx, req)
	case api.CmdCheck:
		return nil, s.Service.Check(ctx, req)
	default:
		return nil, types.NewError(types.ErrInvalidEnvironmentVariables, fmt.Sprintf("unsupported command %q", req.Command), "")
	}
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	if s.Ready != nil {
		if err := s.Ready(r.Context()); err != nil {
			writeError(w, types.NewError(types.ErrPluginNotAvailable, "kuryr daemon is not ready", err.Error()))
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeError(w http.ResponseWriter, e *types.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(api.HTTPStatusFor(e.Code))
	_ = json.NewEncoder(w).Encode(e)
}
