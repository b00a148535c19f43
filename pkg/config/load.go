package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/ini.v1"
)

// Defaults of the options that have one.
const (
	DefaultOVSBridge    = "br-int"
	DefaultHealthPort   = 8082
	DefaultExporterPort = 9654
	// DefaultWorkers: pods reconciled in parallel. Under a burst one port create takes
	// several seconds in a neutron-server that also serves the OVS agents, so 16 in flight
	// keep it busy (measured on the testbed: 40 pods Ready in 26.9 s with 16 against 37.7 s
	// with 4); with pools a reconcile only writes to the API server.
	DefaultWorkers            = 16
	DefaultResyncPeriod       = 10 * time.Minute
	DefaultSweepPeriod        = 90 * time.Second
	DefaultSweepGracePeriod   = 5 * time.Minute
	DefaultActivePollInterval = 500 * time.Millisecond
	DefaultQuotaRetryInterval = 30 * time.Second
	DefaultMaxRetryInterval   = 60 * time.Second
	DefaultNeutronTimeout     = 60 * time.Second
	DefaultReleaseTimeout     = 10 * time.Minute
	// MaxNeutronTimeout bounds [neutron] timeout: longer, a stuck neutron-server would hold a
	// pool sync or a sweep, which have no other deadline, for as long.
	MaxNeutronTimeout = time.Hour
	// MinSweepGracePeriod is the least [controller] sweep_grace_period while the sweep is on:
	// a port the sweep sees may have been created a moment ago, its KuryrPort not yet written
	// or not yet in the cache.
	MinSweepGracePeriod = 30 * time.Second
	maxTagLength        = 255
	maxPoolBatch        = 500
)

// DefaultEnabledHandlers is kuryr-kubernetes' default [kubernetes] enabled_handlers.
var DefaultEnabledHandlers = []string{"vif", "endpoints", "service", "kuryrloadbalancer", "kuryrport"}

// Load reads and validates the file at path. The returned warnings name options that were
// not recognised; the error, if any, names the first offending option.
func Load(path string) (*Config, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("kuryr.conf: reading %s: %w", path, err)
	}
	return Parse(data)
}

// Parse reads and validates kuryr.conf contents.
func Parse(data []byte) (*Config, []string, error) {
	r, err := newReader(data)
	if err != nil {
		return nil, nil, err
	}
	c := &Config{}
	r.kubernetes(&c.Kubernetes)
	r.neutronDefaults(&c.NeutronDefaults)
	r.neutron(&c.Neutron)
	r.controller(&c.Controller)
	c.HealthServer.Port = r.port("health_server", "port", DefaultHealthPort)
	c.Prometheus.ControllerExporterPort = r.port("prometheus_exporter", "controller_exporter_port", DefaultExporterPort)
	r.vifPool(&c.VIFPool)
	if r.err != nil {
		return nil, nil, r.err
	}
	return c, r.unknown(), nil
}

// ParseKubernetes reads and validates only the [kubernetes] group of kuryr.conf contents:
// the node daemon shares the file with the controller but has no Neutron settings to give.
func ParseKubernetes(data []byte) (Kubernetes, error) {
	var k Kubernetes
	r, err := newReader(data)
	if err != nil {
		return k, err
	}
	r.kubernetes(&k)
	return k, r.err
}

func newReader(data []byte) (*reader, error) {
	f, err := ini.LoadSources(ini.LoadOptions{
		// oslo.config has no inline comments: "#" inside a value is part of the value.
		IgnoreInlineComment:        true,
		AllowShadows:               false,
		AllowPythonMultilineValues: true,
	}, data)
	if err != nil {
		return nil, fmt.Errorf("kuryr.conf: %w", err)
	}
	return &reader{f: f, used: map[string]bool{}}, nil
}

// ValidateClusterID checks a cluster ID given in kuryr.conf or on a command line. The empty
// ID is not checked: it means that none was given.
func ValidateClusterID(id string) error {
	switch {
	case strings.ContainsAny(id, ", \t"):
		return errors.New("must not contain commas or blanks (it is part of a Neutron tag)")
	case len(id) > 200:
		return errors.New("longer than 200 characters (Neutron tags are limited to 255)")
	}
	return nil
}

// reader reads options, remembers which ones were read and keeps the first error.
type reader struct {
	f    *ini.File
	used map[string]bool
	err  error
}

func (r *reader) kubernetes(k *Kubernetes) {
	const g = "kubernetes"
	k.Kubeconfig = r.str(g, "kubeconfig", "")
	k.APIRoot = r.str(g, "api_root", "")
	k.TokenFile = r.str(g, "token_file", "")
	k.SSLCACrtFile = r.str(g, "ssl_ca_crt_file", "")
	k.SSLClientCrtFile = r.str(g, "ssl_client_crt_file", "")
	k.SSLClientKeyFile = r.str(g, "ssl_client_key_file", "")
	k.InsecureSkipTLSVerify = !r.boolean(g, "ssl_verify_server_crt", true)
	k.ClusterID = r.str(g, "cluster_id", "")
	k.UseEvents = r.boolean(g, "use_events", true)
	k.VIFPoolDriver = r.str(g, "vif_pool_driver", PoolDriverNoop)
	k.EnabledHandlers = r.list(g, "enabled_handlers")
	if _, set := r.raw(g, "enabled_handlers"); !set {
		k.EnabledHandlers = append([]string(nil), DefaultEnabledHandlers...)
	}
	if err := ValidateClusterID(k.ClusterID); err != nil {
		r.fail(g, "cluster_id", err.Error())
	}
	if k.InsecureSkipTLSVerify && k.SSLCACrtFile != "" {
		r.fail(g, "ssl_verify_server_crt", "false contradicts ssl_ca_crt_file (verify with that CA, or do not verify): remove one of them")
	}
	if k.APIRoot != "" {
		if u, err := url.Parse(k.APIRoot); err != nil || u.Host == "" {
			r.fail(g, "api_root", fmt.Sprintf("%q is not a URL", k.APIRoot))
		}
	}
	switch k.VIFPoolDriver {
	case PoolDriverNoop, PoolDriverNeutron:
	default:
		r.fail(g, "vif_pool_driver", fmt.Sprintf("%q is not supported (noop or neutron)", k.VIFPoolDriver))
	}
}

func (r *reader) neutronDefaults(n *NeutronDefaults) {
	const g = "neutron_defaults"
	n.Project = r.id(g, "project", true)
	n.PodSubnet = r.id(g, "pod_subnet", true)
	n.PodSecurityGroups = r.list(g, "pod_security_groups")
	n.OVSBridge = r.str(g, "ovs_bridge", DefaultOVSBridge)
	n.ServiceSubnet = r.id(g, "service_subnet", false)
	n.ExternalSvcNet = r.id(g, "external_svc_net", false)
	n.ExternalSvcSubnet = r.id(g, "external_svc_subnet", false)
	n.NetworkDeviceMTU = r.integer(g, "network_device_mtu", 0)
	n.ResourceTags = r.list(g, "resource_tags")
	if len(n.PodSecurityGroups) == 0 {
		r.fail(g, "pod_security_groups", "required")
	}
	for _, sg := range n.PodSecurityGroups {
		if strings.ContainsAny(sg, " \t") {
			r.fail(g, "pod_security_groups", fmt.Sprintf("%q is not an ID", sg))
		}
	}
	if n.NetworkDeviceMTU < 0 || (n.NetworkDeviceMTU > 0 && n.NetworkDeviceMTU < 68) {
		r.fail(g, "network_device_mtu", "must be 0 (use the network MTU) or at least 68")
	}
	for _, t := range n.ResourceTags {
		if len(t) > maxTagLength {
			r.fail(g, "resource_tags", fmt.Sprintf("tag %q is longer than %d characters", t, maxTagLength))
		}
	}
}

func (r *reader) neutron(n *Neutron) {
	const g = "neutron"
	n.AuthType = r.str(g, "auth_type", "")
	n.AuthURL = r.str(g, "auth_url", "")
	n.Username = r.str(g, "username", "")
	n.UserID = r.str(g, "user_id", "")
	n.Password = r.str(g, "password", "")
	n.ProjectName = r.str(g, "project_name", "")
	n.ProjectID = r.str(g, "project_id", "")
	n.UserDomainName = r.str(g, "user_domain_name", "")
	n.UserDomainID = r.str(g, "user_domain_id", "")
	n.ProjectDomainName = r.str(g, "project_domain_name", "")
	n.ProjectDomainID = r.str(g, "project_domain_id", "")
	n.RegionName = r.str(g, "region_name", "")
	n.EndpointType = r.str(g, "endpoint_type", "public")
	n.Endpoint = r.str(g, "endpoint", "")
	n.Cloud = r.str(g, "cloud", "")
	n.CloudsFile = r.str(g, "clouds_file", "")
	n.CAFile = r.str(g, "cafile", "")
	n.Insecure = r.boolean(g, "insecure", false)
	n.Timeout = r.duration(g, "timeout", DefaultNeutronTimeout)
	if n.Timeout <= 0 || n.Timeout > MaxNeutronTimeout {
		r.fail(g, "timeout", fmt.Sprintf("must be positive and at most %s (0 would mean no timeout at all)", MaxNeutronTimeout))
	}

	switch n.AuthType {
	case "":
		n.AuthType = AuthPassword
		if n.Cloud != "" {
			n.AuthType = AuthClouds
		}
	case "v3password":
		n.AuthType = AuthPassword
	case AuthNoAuth, AuthPassword, AuthClouds:
	default:
		r.fail(g, "auth_type", fmt.Sprintf("%q is not supported (noauth, password, v3password or clouds)", n.AuthType))
		return
	}
	switch strings.TrimSuffix(n.EndpointType, "URL") {
	case "public", "internal", "admin":
		n.EndpointType = strings.TrimSuffix(n.EndpointType, "URL")
	default:
		r.fail(g, "endpoint_type", fmt.Sprintf("%q is not one of public, internal, admin", n.EndpointType))
	}
	if n.Endpoint != "" {
		if u, err := url.Parse(n.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.fail(g, "endpoint", fmt.Sprintf("%q is not an http(s) URL", n.Endpoint))
		}
	}
	switch n.AuthType {
	case AuthNoAuth:
		if n.Endpoint == "" {
			r.fail(g, "endpoint", "required with auth_type = noauth")
		}
	case AuthClouds:
		if n.Cloud == "" {
			r.fail(g, "cloud", "required with auth_type = clouds")
		}
	case AuthPassword:
		switch {
		case n.AuthURL == "":
			r.fail(g, "auth_url", "required with auth_type = password (or set auth_type = noauth, or cloud)")
		case n.Username == "" && n.UserID == "":
			r.fail(g, "username", "required with auth_type = password")
		case n.Password == "":
			r.fail(g, "password", "required with auth_type = password")
		case n.ProjectName == "" && n.ProjectID == "":
			r.fail(g, "project_name", "required with auth_type = password")
		}
	}
}

func (r *reader) controller(c *Controller) {
	const g = "controller"
	c.Workers = r.integer(g, "workers", DefaultWorkers)
	c.ResyncPeriod = r.duration(g, "resync_period", DefaultResyncPeriod)
	c.SweepPeriod = r.duration(g, "sweep_period", DefaultSweepPeriod)
	c.SweepGracePeriod = r.duration(g, "sweep_grace_period", DefaultSweepGracePeriod)
	c.ActivePollInterval = r.duration(g, "active_poll_interval", DefaultActivePollInterval)
	c.QuotaRetryInterval = r.duration(g, "quota_retry_interval", DefaultQuotaRetryInterval)
	c.MaxRetryInterval = r.duration(g, "max_retry_interval", DefaultMaxRetryInterval)
	c.ReleaseTimeout = r.duration(g, "release_timeout", DefaultReleaseTimeout)
	if c.Workers < 1 || c.Workers > 256 {
		r.fail(g, "workers", "must be between 1 and 256")
	}
	for opt, d := range map[string]time.Duration{
		"resync_period": c.ResyncPeriod, "active_poll_interval": c.ActivePollInterval,
		"quota_retry_interval": c.QuotaRetryInterval, "max_retry_interval": c.MaxRetryInterval,
		"release_timeout": c.ReleaseTimeout,
	} {
		if d <= 0 {
			r.fail(g, opt, "must be positive")
		}
	}
	switch {
	case c.SweepPeriod < 0:
		r.fail(g, "sweep_period", "must not be negative (0 turns the sweep off)")
	case c.SweepPeriod > 0 && c.SweepGracePeriod < MinSweepGracePeriod:
		r.fail(g, "sweep_grace_period", fmt.Sprintf("must be at least %s while the sweep is on (sweep_period > 0): "+
			"it protects young ports, whose KuryrPort may not be written or cached yet, from being deleted as orphans",
			MinSweepGracePeriod))
	case c.SweepGracePeriod < 0:
		r.fail(g, "sweep_grace_period", "must not be negative")
	}
}

func (r *reader) vifPool(p *VIFPool) {
	const g = "vif_pool"
	p.PortsPoolMin = r.integer(g, "ports_pool_min", 5)
	p.PortsPoolMax = r.integer(g, "ports_pool_max", 0)
	p.PortsPoolBatch = r.integer(g, "ports_pool_batch", 10)
	p.PortsPoolUpdateFrequency = r.duration(g, "ports_pool_update_frequency", 20*time.Second)
	p.PortsPoolPreplug = r.boolean(g, "ports_pool_preplug", true)
	p.VIFPoolMapping = r.mapping(g, "vif_pool_mapping")
	switch {
	case p.PortsPoolBatch < 1:
		r.fail(g, "ports_pool_batch", "must be at least 1")
	case p.PortsPoolMin < 0:
		r.fail(g, "ports_pool_min", "must not be negative")
	case p.PortsPoolMax < 0:
		r.fail(g, "ports_pool_max", "must not be negative")
	case p.PortsPoolMax > 0 && p.PortsPoolMin > p.PortsPoolMax:
		r.fail(g, "ports_pool_min", fmt.Sprintf("%d exceeds ports_pool_max (%d)", p.PortsPoolMin, p.PortsPoolMax))
	case p.PortsPoolMax > 0 && p.PortsPoolBatch > p.PortsPoolMax:
		r.fail(g, "ports_pool_batch", fmt.Sprintf("%d exceeds ports_pool_max (%d): a refill could never fit", p.PortsPoolBatch, p.PortsPoolMax))
	case p.PortsPoolBatch > maxPoolBatch:
		r.fail(g, "ports_pool_batch", fmt.Sprintf("must be at most %d (one bulk request)", maxPoolBatch))
	case p.PortsPoolUpdateFrequency <= 0:
		r.fail(g, "ports_pool_update_frequency", "must be positive")
	}
}

func (r *reader) fail(group, opt, problem string) {
	if r.err == nil {
		r.err = &OptionError{Group: group, Option: opt, Problem: problem}
	}
}

func (r *reader) raw(group, opt string) (string, bool) {
	r.used[group+"\x00"+opt] = true
	s, err := r.f.GetSection(group)
	if err != nil || !s.HasKey(opt) {
		return "", false
	}
	return strings.TrimSpace(s.Key(opt).Value()), true
}

func (r *reader) str(group, opt, def string) string {
	if v, ok := r.raw(group, opt); ok && v != "" {
		return v
	}
	return def
}

func (r *reader) id(group, opt string, required bool) string {
	v := r.str(group, opt, "")
	switch {
	case v == "" && required:
		r.fail(group, opt, "required")
	case strings.ContainsAny(v, " \t,"):
		r.fail(group, opt, fmt.Sprintf("%q is not an ID", v))
	}
	return v
}

func (r *reader) list(group, opt string) []string {
	v, _ := r.raw(group, opt)
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (r *reader) mapping(group, opt string) map[string]string {
	out := map[string]string{}
	for _, kv := range r.list(group, opt) {
		k, v, ok := strings.Cut(kv, ":")
		if !ok || strings.TrimSpace(k) == "" {
			r.fail(group, opt, fmt.Sprintf("%q is not key:value", kv))
			continue
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

func (r *reader) integer(group, opt string, def int) int {
	v, ok := r.raw(group, opt)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(group, opt, fmt.Sprintf("%q is not an integer", v))
		return def
	}
	return n
}

func (r *reader) port(group, opt string, def int) int {
	p := r.integer(group, opt, def)
	if p < 0 || p > 65535 {
		r.fail(group, opt, "must be a TCP port (0 disables)")
	}
	return p
}

func (r *reader) boolean(group, opt string, def bool) bool {
	v, ok := r.raw(group, opt)
	if !ok || v == "" {
		return def
	}
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1":
		return true
	case "false", "no", "off", "0":
		return false
	}
	r.fail(group, opt, fmt.Sprintf("%q is not a boolean", v))
	return def
}

// duration accepts kuryr's integer seconds as well as Go durations ("500ms", "2m").
func (r *reader) duration(group, opt string, def time.Duration) time.Duration {
	v, ok := r.raw(group, opt)
	if !ok || v == "" {
		return def
	}
	d, err := ParseDuration(v)
	if err != nil {
		r.fail(group, opt, err.Error())
		return def
	}
	return d
}

// ParseDuration reads a duration as kuryr.conf writes them: seconds, possibly fractional
// ("30", "2.5"), or a Go duration ("500ms", "2m"). NaN, infinities and values beyond the
// range of time.Duration (about 292 years) are errors.
func ParseDuration(v string) (time.Duration, error) {
	n, err := strconv.ParseFloat(v, 64)
	if err == nil || errors.Is(err, strconv.ErrRange) {
		switch {
		case math.IsNaN(n):
			return 0, fmt.Errorf("%q is not a number of seconds", v)
		case math.IsInf(n, 0) || math.Abs(n) >= float64(math.MaxInt64)/float64(time.Second):
			return 0, fmt.Errorf("%q is out of range", v)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is neither seconds nor a duration", v)
	}
	return d, nil
}

// unknown lists options present in the file that nothing read, except kuryr-kubernetes
// options this implementation deliberately ignores.
func (r *reader) unknown() []string {
	var out []string
	for _, s := range r.f.Sections() {
		for _, k := range s.Keys() {
			if r.used[s.Name()+"\x00"+k.Name()] || ignored[s.Name()][k.Name()] || ignoredGroups[s.Name()] {
				continue
			}
			out = append(out, fmt.Sprintf("kuryr.conf: [%s] %s: unknown option, ignored", s.Name(), k.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// ErrOption reports whether err is a configuration error naming an option.
func ErrOption(err error) (*OptionError, bool) {
	var oe *OptionError
	ok := errors.As(err, &oe)
	return oe, ok
}
