// Package plugin is the kuryr-cni binary: a thin client that forwards each CNI invocation
// to the node daemon over its unix socket and prints the daemon's answer. It does no network
// work itself and must not import Kubernetes client libraries (it runs once per CNI call).
package plugin

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/kuryr-go/kuryr-go/pkg/cni/api"
)

// Supported lists the CNI specification versions the plugin answers in.
var Supported = version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

// Default deadlines. ADD has to cover the daemon's wait for the port (vif_annotation_timeout)
// and for its activation; both default to 60 s on the daemon side.
const (
	DefaultAddTimeout   = 150 * time.Second
	DefaultOtherTimeout = 30 * time.Second
	// MaxTimeout caps the conflist's timeout: a larger value (up to one that would overflow
	// into a negative deadline) is taken as this.
	MaxTimeout = 10 * time.Minute
)

// NetConf is the plugin's entry in the conflist.
type NetConf struct {
	types.PluginConf
	// DaemonSocket is the daemon's unix socket (default api.DefaultSocket).
	DaemonSocket string `json:"daemon_socket,omitempty"`
	// Timeout bounds an ADD in seconds (default 150, at most 600: larger values count as 600);
	// DEL, CHECK and STATUS use min(Timeout, 30).
	Timeout int `json:"timeout,omitempty"`
	// KuryrConf is accepted for compatibility with kuryr-kubernetes conflists and ignored.
	KuryrConf string `json:"kuryr_conf,omitempty"`
	// Debug is accepted for compatibility and ignored.
	Debug bool `json:"debug,omitempty"`
}

// ParseConf decodes and validates the network configuration.
func ParseConf(stdin []byte) (*NetConf, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(stdin, conf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "decoding network configuration", err.Error())
	}
	if conf.DaemonSocket == "" {
		conf.DaemonSocket = api.DefaultSocket
	}
	if !filepath.IsAbs(conf.DaemonSocket) {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "daemon_socket must be an absolute path", conf.DaemonSocket)
	}
	if conf.Timeout < 0 {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "timeout must not be negative", "")
	}
	return conf, nil
}

func (c *NetConf) timeout(cmd string) time.Duration {
	add := DefaultAddTimeout
	if c.Timeout > 0 {
		// Capped before the multiplication, which could overflow.
		add = time.Duration(min(c.Timeout, int(MaxTimeout/time.Second))) * time.Second
	}
	if cmd == api.CmdAdd {
		return add
	}
	return min(add, DefaultOtherTimeout)
}

// Plugin implements the CNI commands. Stdout receives ADD results.
type Plugin struct {
	Stdout io.Writer
	// Now is the clock (tests).
	Now func() time.Time
}

// New returns a plugin writing to os.Stdout.
func New() *Plugin { return &Plugin{Stdout: os.Stdout, Now: time.Now} }

// Funcs returns the skel callbacks.
func (p *Plugin) Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: p.Add, Del: p.Del, Check: p.Check, Status: p.Status, GC: p.GC}
}

// GC succeeds without doing anything: the daemon already removes OVS ports whose sandbox is
// gone when it starts, and DEL removes the others.
func (p *Plugin) GC(args *skel.CmdArgs) error {
	_, err := ParseConf(args.StdinData)
	return err
}

// Main runs the plugin as a CNI executable.
func Main(buildVersion string) {
	skel.PluginMainFuncs(New().Funcs(), Supported, "CNI plugin kuryr-cni "+buildVersion)
}

func request(cmd string, args *skel.CmdArgs) *api.Request {
	netns := args.Netns
	if netns != "" && !filepath.IsAbs(netns) {
		if abs, err := filepath.Abs(netns); err == nil {
			netns = abs
		}
	}
	return &api.Request{
		Command: cmd, ContainerID: args.ContainerID, Netns: netns, IfName: args.IfName,
		Args: args.Args, Path: args.Path, Config: json.RawMessage(args.StdinData),
	}
}

// Add forwards ADD and prints the daemon's result in the configuration's CNI version.
func (p *Plugin) Add(args *skel.CmdArgs) error {
	conf, err := ParseConf(args.StdinData)
	if err != nil {
		return err
	}
	body, err := p.call(conf, request(api.CmdAdd, args))
	if err != nil {
		return err
	}
	return printResult(p.Stdout, body, conf.CNIVersion)
}

// Del forwards DEL. The daemon makes it idempotent.
func (p *Plugin) Del(args *skel.CmdArgs) error {
	conf, err := ParseConf(args.StdinData)
	if err != nil {
		return err
	}
	_, err = p.call(conf, request(api.CmdDel, args))
	return err
}

// Check forwards CHECK; the daemon inspects the pod's interface and the OVS port.
func (p *Plugin) Check(args *skel.CmdArgs) error {
	conf, err := ParseConf(args.StdinData)
	if err != nil {
		return err
	}
	_, err = p.call(conf, request(api.CmdCheck, args))
	return err
}

// Status asks the daemon whether it can serve ADDs.
func (p *Plugin) Status(args *skel.CmdArgs) error {
	conf, err := ParseConf(args.StdinData)
	if err != nil {
		return err
	}
	return p.status(conf)
}

// printResult converts the daemon's 1.0.0 result to the requested version and prints it.
func printResult(w io.Writer, body []byte, cniVersion string) error {
	res, err := version.NewResult(resultVersion, body)
	if err != nil {
		return types.NewError(api.ErrBadResponse, "decoding the daemon's result", err.Error())
	}
	if cniVersion == "" {
		cniVersion = resultVersion
	}
	out, err := res.GetAsVersion(cniVersion)
	if err != nil {
		return types.NewError(types.ErrIncompatibleCNIVersion, fmt.Sprintf("converting the result to CNI %s", cniVersion), err.Error())
	}
	if err := out.PrintTo(w); err != nil {
		return types.NewError(types.ErrIOFailure, "printing the result", err.Error())
	}
	return nil
}

// resultVersion is the version the daemon answers in.
const resultVersion = "1.0.0"
