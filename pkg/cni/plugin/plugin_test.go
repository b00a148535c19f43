package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/kuryr-go/kuryr-go/pkg/cni/api"
)

const result100 = `{"cniVersion":"1.0.0","interfaces":[{"name":"tapx","mac":"aa:bb:cc:dd:ee:ff"},{"name":"eth0","mac":"fa:16:3e:00:00:01","sandbox":"/n"}],` +
	`"ips":[{"interface":1,"address":"10.0.0.70/26","gateway":"10.0.0.65"}],"routes":[{"dst":"0.0.0.0/0","gw":"10.0.0.65"}],"dns":{"nameservers":["10.0.0.2"]}}`

// fakeDaemon serves h on a unix socket in a temp dir and returns the socket path.
func fakeDaemon(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sock
}

func conf(sock, version string, timeout int) []byte {
	b, _ := json.Marshal(map[string]any{"cniVersion": version, "name": "kuryr", "type": "kuryr-cni", "daemon_socket": sock, "timeout": timeout})
	return b
}

func args(stdin []byte) *skel.CmdArgs {
	return &skel.CmdArgs{ContainerID: "c1", Netns: "/var/run/netns/x", IfName: "eth0",
		Args: "K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;K8S_POD_UID=u", Path: "/opt/cni/bin", StdinData: stdin}
}

func cniErr(t *testing.T, err error) *types.Error {
	t.Helper()
	var e *types.Error
	if !errors.As(err, &e) {
		t.Fatalf("expected a CNI error, got %v", err)
	}
	return e
}

func TestParseConf(t *testing.T) {
	c, err := ParseConf([]byte(`{"cniVersion":"1.0.0","name":"kuryr","type":"kuryr-cni"}`))
	if err != nil || c.DaemonSocket != api.DefaultSocket || c.timeout(api.CmdAdd) != DefaultAddTimeout || c.timeout(api.CmdDel) != DefaultOtherTimeout {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	for _, bad := range []string{`{`, `{"daemon_socket":"rel/sock"}`, `{"timeout":-1}`} {
		if _, err := ParseConf([]byte(bad)); err == nil {
			t.Errorf("%s: expected an error", bad)
		}
	}
	c, _ = ParseConf([]byte(`{"timeout":5}`))
	if c.timeout(api.CmdAdd) != 5*time.Second || c.timeout(api.CmdCheck) != 5*time.Second {
		t.Fatalf("timeout 5: %v", c.timeout(api.CmdAdd))
	}
}

func TestTimeoutIsCappedSoTheDeadlineIsNeverNegative(t *testing.T) {
	for _, v := range []string{"600", "601", "9999999999", "9223372036854775807"} {
		c, err := ParseConf([]byte(`{"timeout":` + v + `}`))
		if err != nil {
			t.Fatalf("timeout %s: %v", v, err)
		}
		if got := c.timeout(api.CmdAdd); got != MaxTimeout {
			t.Errorf("timeout %s: ADD deadline in %v, want %v", v, got, MaxTimeout)
		}
		if got := c.timeout(api.CmdDel); got != DefaultOtherTimeout {
			t.Errorf("timeout %s: DEL deadline in %v, want %v", v, got, DefaultOtherTimeout)
		}
	}
	for _, v := range []string{"-1", "-9999999999"} {
		if _, err := ParseConf([]byte(`{"timeout":` + v + `}`)); err == nil {
			t.Errorf("timeout %s accepted", v)
		}
	}
}

func TestAddForwardsAndConvertsResult(t *testing.T) {
	for _, version := range []string{"0.3.1", "0.4.0", "1.0.0", "1.1.0"} {
		t.Run(version, func(t *testing.T) {
			var got api.Request
			var deadline string
			sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
				deadline = r.Header.Get(api.HeaderDeadline)
				_ = json.NewDecoder(r.Body).Decode(&got)
				_, _ = io.WriteString(w, result100)
			})
			var out bytes.Buffer
			p := &Plugin{Stdout: &out, Now: time.Now}
			stdin := conf(sock, version, 0)
			if err := p.Add(args(stdin)); err != nil {
				t.Fatal(err)
			}
			if got.Command != api.CmdAdd || got.ContainerID != "c1" || got.IfName != "eth0" || got.Netns != "/var/run/netns/x" ||
				!strings.Contains(got.Args, "K8S_POD_UID=u") || !bytes.Equal(got.Config, stdin) {
				t.Fatalf("forwarded request: %+v", got)
			}
			if dl, ok := api.ParseDeadline(deadline); !ok || time.Until(dl) < DefaultAddTimeout-5*time.Second {
				t.Fatalf("deadline header %q", deadline)
			}
			var printed map[string]any
			if err := json.Unmarshal(out.Bytes(), &printed); err != nil {
				t.Fatalf("output %q: %v", out.String(), err)
			}
			if printed["cniVersion"] != version {
				t.Fatalf("printed version %v", printed["cniVersion"])
			}
			ips := printed["ips"].([]any)
			ip := ips[0].(map[string]any)
			if ip["address"] != "10.0.0.70/26" {
				t.Fatalf("ips: %v", ips)
			}
			if strings.HasPrefix(version, "0.") && ip["version"] != "4" {
				t.Fatalf("0.x result needs the IP version: %v", ip)
			}
		})
	}
}

func TestDaemonNotRunningIsTryAgainLater(t *testing.T) {
	p := &Plugin{Stdout: io.Discard}
	stdin := conf(filepath.Join(t.TempDir(), "missing.sock"), "1.0.0", 0)
	for name, f := range map[string]func(*skel.CmdArgs) error{"add": p.Add, "del": p.Del, "check": p.Check} {
		e := cniErr(t, f(args(stdin)))
		if e.Code != types.ErrTryAgainLater || !strings.Contains(e.Msg, "not running") {
			t.Errorf("%s: %+v", name, e)
		}
	}
	if e := cniErr(t, p.Status(args(stdin))); e.Code != types.ErrPluginNotAvailable {
		t.Errorf("status: %+v", e)
	}
}

func TestSlowDaemonTimesOutWithTryAgainLater(t *testing.T) {
	release := make(chan struct{})
	sock := fakeDaemon(t, func(http.ResponseWriter, *http.Request) { <-release })
	defer close(release)
	p := &Plugin{Stdout: io.Discard}
	start := time.Now()
	e := cniErr(t, p.Add(args(conf(sock, "1.0.0", 1))))
	if e.Code != types.ErrTryAgainLater || !strings.Contains(e.Msg, "timed out") {
		t.Fatalf("got %+v", e)
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestDaemonErrorsPassThrough(t *testing.T) {
	sock := fakeDaemon(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusGone)
		_ = json.NewEncoder(w).Encode(types.NewError(types.ErrUnknownContainer, "pod default/p does not exist", ""))
	})
	e := cniErr(t, (&Plugin{Stdout: io.Discard}).Add(args(conf(sock, "1.0.0", 0))))
	if e.Code != types.ErrUnknownContainer || e.Msg != "pod default/p does not exist" {
		t.Fatalf("got %+v", e)
	}
}

func TestGarbageAnswerIsBadResponse(t *testing.T) {
	sock := fakeDaemon(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "<html>oops</html>", 500) })
	e := cniErr(t, (&Plugin{Stdout: io.Discard}).Del(args(conf(sock, "1.0.0", 0))))
	if e.Code != api.ErrBadResponse || !strings.Contains(e.Msg, "HTTP 500") {
		t.Fatalf("got %+v", e)
	}
	okSock := fakeDaemon(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "{not json") })
	e = cniErr(t, (&Plugin{Stdout: io.Discard}).Add(args(conf(okSock, "1.0.0", 0))))
	if e.Code != api.ErrBadResponse {
		t.Fatalf("got %+v", e)
	}
}

func TestStatus(t *testing.T) {
	ready := true
	sock := fakeDaemon(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != api.PathStatus {
			t.Errorf("path %s", r.URL.Path)
		}
		if ready {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(types.NewError(types.ErrPluginNotAvailable, "not ready", "bridge br-int does not exist"))
	})
	p := &Plugin{Stdout: io.Discard}
	if err := p.Status(args(conf(sock, "1.1.0", 0))); err != nil {
		t.Fatal(err)
	}
	ready = false
	if e := cniErr(t, p.Status(args(conf(sock, "1.1.0", 0)))); e.Code != types.ErrPluginNotAvailable || e.Details == "" {
		t.Fatalf("got %+v", e)
	}
}
