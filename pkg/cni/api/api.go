// Package api is the private protocol between the kuryr-cni plugin binary and the node
// daemon: JSON over HTTP on a root-only unix socket.
//
// The plugin forwards the CNI invocation as a Request to POST /cni. The daemon answers
// 200 with a CNI 1.0.0 result for ADD, 204 for DEL and CHECK, or an error status with a
// CNI error object ({code,msg,details}) in the body. GET /status answers 204 when the
// daemon is ready to serve ADDs and a CNI error otherwise (used for CNI STATUS).
//
// This package must stay free of Kubernetes client libraries: the plugin binary imports it.
package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/containernetworking/cni/pkg/types"
)

// Paths served by the daemon.
const (
	PathCNI    = "/cni"
	PathStatus = "/status"
)

// DefaultSocket is where the daemon listens unless configured otherwise.
const DefaultSocket = "/run/kuryr/daemon.sock"

// HeaderDeadline carries the plugin's deadline (RFC 3339 with nanoseconds) so the daemon
// can give up on its own waits before the plugin stops listening.
const HeaderDeadline = "X-Kuryr-Deadline"

// CNI commands.
const (
	CmdAdd    = "ADD"
	CmdDel    = "DEL"
	CmdCheck  = "CHECK"
	CmdStatus = "STATUS"
)

// Request is one CNI invocation as the plugin received it.
type Request struct {
	Command     string `json:"command"`
	ContainerID string `json:"containerId"`
	Netns       string `json:"netns,omitempty"`
	IfName      string `json:"ifName"`
	// Args is CNI_ARGS verbatim (K8S_POD_NAMESPACE=...;K8S_POD_NAME=...;K8S_POD_UID=...).
	Args string `json:"args,omitempty"`
	Path string `json:"path,omitempty"`
	// Config is the network configuration from stdin (including prevResult for CHECK).
	Config json.RawMessage `json:"config,omitempty"`
}

// Error codes used by kuryr in addition to the CNI well-known ones. Codes 100 and above are
// plugin specific by the CNI specification.
const (
	// ErrPodNotFound: the pod does not exist (any more) or has another UID.
	ErrPodNotFound uint = types.ErrUnknownContainer
	// ErrBadResponse: the daemon answered something the plugin could not decode.
	ErrBadResponse uint = 101
)

// HTTPStatusFor maps a CNI error code to the HTTP status the daemon answers with. The plugin
// does not depend on it (it reads the body), it only makes logs and curl readable.
func HTTPStatusFor(code uint) int {
	switch code {
	case types.ErrTryAgainLater:
		return http.StatusServiceUnavailable
	case types.ErrUnknownContainer:
		return http.StatusGone
	case types.ErrInvalidEnvironmentVariables, types.ErrDecodingFailure, types.ErrInvalidNetworkConfig,
		types.ErrIncompatibleCNIVersion, types.ErrUnsupportedField:
		return http.StatusBadRequest
	case types.ErrInvalidNetNS:
		return http.StatusUnprocessableEntity
	case types.ErrPluginNotAvailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// FormatDeadline renders a deadline for HeaderDeadline.
func FormatDeadline(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ParseDeadline reads HeaderDeadline; ok is false when it is absent or malformed.
func ParseDeadline(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
