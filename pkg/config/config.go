// Package config reads kuryr.conf, the INI file kuryr-kubernetes used, with its group and
// option names. Options this implementation does not know produce warnings; invalid or
// missing required values stop the start-up with one line naming the option.
package config

import (
	"fmt"
	"time"
)

// Authentication modes of the [neutron] group.
const (
	AuthNoAuth   = "noauth"
	AuthPassword = "password"
	AuthClouds   = "clouds"
)

// Config is the parsed kuryr.conf.
type Config struct {
	Kubernetes      Kubernetes
	NeutronDefaults NeutronDefaults
	Neutron         Neutron
	Controller      Controller
	HealthServer    HealthServer
	Prometheus      Prometheus
	VIFPool         VIFPool
}

// Kubernetes is the [kubernetes] group: API access and cluster identity.
type Kubernetes struct {
	// Kubeconfig, when set, is used instead of in-cluster configuration.
	Kubeconfig       string
	APIRoot          string
	TokenFile        string
	SSLCACrtFile     string
	SSLClientCrtFile string
	SSLClientKeyFile string
	// InsecureSkipTLSVerify is set by an explicit ssl_verify_server_crt = false only: by
	// default the API server's certificate is verified.
	InsecureSkipTLSVerify bool
	// ClusterID scopes the Neutron resources of this cluster (ownership tag). Empty when
	// kuryr.conf does not set it.
	ClusterID string
	// UseEvents enables Kubernetes Events on pods.
	UseEvents bool
	// VIFPoolDriver is noop (a port is created per pod) or neutron (port pools per node).
	VIFPoolDriver string
	// EnabledHandlers are kuryr-kubernetes' handler names that pick the controllers.
	EnabledHandlers []string
}

// NeutronDefaults is the [neutron_defaults] group.
type NeutronDefaults struct {
	Project           string
	PodSubnet         string
	PodSecurityGroups []string
	OVSBridge         string
	ServiceSubnet     string
	ExternalSvcNet    string
	ExternalSvcSubnet string
	// NetworkDeviceMTU overrides the network MTU when non-zero (the smaller one wins).
	NetworkDeviceMTU int
	ResourceTags     []string
}

// Neutron is the [neutron] group: how to reach and authenticate to Neutron.
type Neutron struct {
	// AuthType is noauth, password (Keystone v3) or clouds (clouds.yaml).
	AuthType          string
	AuthURL           string
	Username          string
	UserID            string
	Password          string
	ProjectName       string
	ProjectID         string
	UserDomainName    string
	UserDomainID      string
	ProjectDomainName string
	ProjectDomainID   string
	RegionName        string
	// EndpointType is the catalog interface: public, internal or admin.
	EndpointType string
	// Endpoint is the Neutron URL for noauth (and an override of the catalog otherwise).
	Endpoint string
	// Cloud names the clouds.yaml entry; CloudsFile optionally names the file.
	Cloud      string
	CloudsFile string
	CAFile     string
	Insecure   bool
	Timeout    time.Duration
}

// Controller is the [controller] group, specific to this implementation.
type Controller struct {
	// Workers is the number of pods reconciled in parallel.
	Workers int
	// ResyncPeriod re-reads every object from the cache this often.
	ResyncPeriod time.Duration
	// SweepPeriod is how often orphaned ports are looked for; 0 disables the sweep.
	SweepPeriod time.Duration
	// SweepGracePeriod protects ports younger than this from the sweep.
	SweepGracePeriod time.Duration
	// ActivePollInterval is the first interval of the ACTIVE poll; it grows from there.
	ActivePollInterval time.Duration
	// QuotaRetryInterval is the retry interval when Neutron reports quota or IP exhaustion.
	QuotaRetryInterval time.Duration
	// MaxRetryInterval caps the exponential back-off of transient errors.
	MaxRetryInterval time.Duration
	// ReleaseTimeout is how long a deleted KuryrPort waits for Neutron to release its port
	// before it goes and leaves the port to the orphan sweep.
	ReleaseTimeout time.Duration
}

// HealthServer is the [health_server] group.
type HealthServer struct{ Port int }

// Prometheus is the [prometheus_exporter] group.
type Prometheus struct{ ControllerExporterPort int }

// Values of [kubernetes] vif_pool_driver.
const (
	PoolDriverNoop    = "noop"
	PoolDriverNeutron = "neutron"
)

// VIFPool is the [vif_pool] group, used with vif_pool_driver = neutron.
type VIFPool struct {
	// PortsPoolMin: a pool below this is refilled in the background.
	PortsPoolMin int
	// PortsPoolMax: a released port is deleted instead of pooled when the pool holds this
	// many; 0 means no limit.
	PortsPoolMax int
	// PortsPoolBatch is the least number of ports one refill creates (one bulk request).
	PortsPoolBatch int
	// PortsPoolUpdateFrequency is how often the pools are compared with Neutron: released
	// ports that went DOWN become free, ports created outside (kuryrctl pools prefill) join.
	PortsPoolUpdateFrequency time.Duration
	// PortsPoolPreplug publishes each node's free ports in its KuryrPortPool so that the
	// node daemon plugs them before any pod asks: a pod then finds its port wired.
	PortsPoolPreplug bool
	VIFPoolMapping   map[string]string
}

// OptionError names the option a start-up problem is about.
type OptionError struct {
	Group, Option, Problem string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("kuryr.conf: [%s] %s: %s", e.Group, e.Option, e.Problem)
}
