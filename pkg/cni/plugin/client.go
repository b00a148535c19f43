package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/kuryr-go/kuryr-go/pkg/cni/api"
)

// maxResponse bounds what the plugin reads from the daemon.
const maxResponse = 1 << 20

func httpClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}}
}

// call POSTs the request and returns the body of a 2xx answer or a *types.Error.
func (p *Plugin) call(conf *NetConf, req *api.Request) ([]byte, error) {
	timeout := conf.timeout(req.Command)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, types.NewError(types.ErrInternal, "encoding the daemon request", err.Error())
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://kuryr-daemon"+api.PathCNI, bytes.NewReader(payload))
	if err != nil {
		return nil, types.NewError(types.ErrInternal, "building the daemon request", err.Error())
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set(api.HeaderDeadline, api.FormatDeadline(p.now().Add(timeout)))
	resp, err := httpClient(conf.DaemonSocket).Do(hreq)
	if err != nil {
		return nil, transportError(ctx, conf.DaemonSocket, req.Command, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, transportError(ctx, conf.DaemonSocket, req.Command, err)
	}
	if resp.StatusCode/100 == 2 {
		return body, nil
	}
	return nil, decodeError(resp.StatusCode, body)
}

func (p *Plugin) status(conf *NetConf) error {
	ctx, cancel := context.WithTimeout(context.Background(), conf.timeout(api.CmdStatus))
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://kuryr-daemon"+api.PathStatus, http.NoBody)
	if err != nil {
		return types.NewError(types.ErrInternal, "building the daemon request", err.Error())
	}
	resp, err := httpClient(conf.DaemonSocket).Do(hreq)
	if err != nil {
		return types.NewError(types.ErrPluginNotAvailable, "kuryr daemon is not reachable", err.Error())
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return decodeError(resp.StatusCode, body)
}

func (p *Plugin) now() Time {
	if p.Now != nil {
		return p.Now()
	}
	return timeNow()
}

// transportError maps a failure to talk to the daemon. Anything that a later retry may fix
// (daemon not started, restarting, or too slow) is "try again later" (11).
func transportError(ctx context.Context, socket, cmd string, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return types.NewError(types.ErrTryAgainLater,
			fmt.Sprintf("timed out waiting for the kuryr daemon to answer %s", cmd), err.Error())
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT):
		return types.NewError(types.ErrTryAgainLater,
			fmt.Sprintf("kuryr daemon is not running (socket %s)", socket), err.Error())
	default:
		return types.NewError(types.ErrTryAgainLater,
			fmt.Sprintf("kuryr daemon is not reachable (socket %s)", socket), err.Error())
	}
}

// decodeError turns a non-2xx answer into a CNI error, keeping the daemon's code.
func decodeError(status int, body []byte) error {
	var e types.Error
	if err := json.Unmarshal(body, &e); err != nil || (e.Code == 0 && e.Msg == "") {
		return types.NewError(api.ErrBadResponse,
			fmt.Sprintf("unexpected answer from the kuryr daemon (HTTP %d)", status), string(truncate(body, 512)))
	}
	return &e
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
