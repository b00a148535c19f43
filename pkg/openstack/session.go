package openstack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
)

const userAgent = "kuryr-go"

// Authentication modes.
const (
	AuthNoAuth   = "noauth"
	AuthPassword = "password"
	AuthClouds   = "clouds"
)

// ErrNotSupported is returned by operations the session cannot do (for example looking a
// Keystone project up without Keystone).
var ErrNotSupported = errors.New("not supported by this OpenStack connection")

// Options say how to reach and authenticate to OpenStack: noauth with an explicit Neutron
// endpoint, Keystone password authentication, or a clouds.yaml entry.
type Options struct {
	AuthType string
	// Auth is the Keystone authentication of AuthType password.
	Auth gophercloud.AuthOptions
	// Endpoints choose the region and interface in the service catalog.
	Endpoints gophercloud.EndpointOpts
	// NeutronEndpoint is Neutron's URL for noauth, and an override of the catalog otherwise.
	NeutronEndpoint string
	// Cloud names the clouds.yaml entry of AuthType clouds; CloudsFile optionally the file.
	Cloud, CloudsFile string
	CAFile            string
	Insecure          bool
	// Timeout bounds every HTTP request.
	Timeout time.Duration
}

// Session is an authenticated connection that service clients are built from.
type Session struct {
	// Provider is nil with noauth.
	Provider  *gophercloud.ProviderClient
	Endpoints gophercloud.EndpointOpts
	// HTTP is the client of noauth sessions.
	HTTP            *http.Client
	NeutronEndpoint string
}

// Connect authenticates as o says. It builds no service client.
func Connect(ctx context.Context, o Options) (*Session, error) {
	switch o.AuthType {
	case AuthNoAuth:
		return NoAuth(o)
	case AuthClouds:
		copts := []clouds.ParseOption{clouds.WithCloudName(o.Cloud)}
		if o.CloudsFile != "" {
			copts = append(copts, clouds.WithLocations(o.CloudsFile))
		}
		if o.Endpoints.Region != "" {
			copts = append(copts, clouds.WithRegion(o.Endpoints.Region))
		}
		ao, eo, tlsConfig, err := clouds.Parse(copts...)
		if err != nil {
			return nil, fmt.Errorf("reading clouds.yaml cloud %q: %w", o.Cloud, err)
		}
		ao.AllowReauth = true
		return authenticate(ctx, o, ao, eo, tlsConfig)
	default:
		ao := o.Auth
		ao.AllowReauth = true
		return authenticate(ctx, o, ao, o.Endpoints, nil)
	}
}

// NoAuth is a session for a Neutron running with auth_strategy = noauth: no
// authentication header is sent at all (Neutron's noauth middleware would take an
// X-Project-Id as the caller's project), and there is no Keystone.
func NoAuth(o Options) (*Session, error) {
	hc, err := httpClient(o, nil)
	if err != nil {
		return nil, err
	}
	return &Session{HTTP: hc, NeutronEndpoint: o.NeutronEndpoint}, nil
}

func authenticate(ctx context.Context, o Options, ao gophercloud.AuthOptions, eo gophercloud.EndpointOpts, tlsConfig *tls.Config) (*Session, error) {
	pc, err := openstack.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return nil, fmt.Errorf("keystone client for %s: %w", ao.IdentityEndpoint, err)
	}
	hc, err := httpClient(o, tlsConfig)
	if err != nil {
		return nil, err
	}
	pc.HTTPClient = *hc
	pc.UserAgent.Prepend(userAgent)
	if err := openstack.Authenticate(ctx, pc, ao); err != nil {
		return nil, Wrap("authenticate to keystone", err)
	}
	return &Session{Provider: pc, Endpoints: eo, HTTP: hc, NeutronEndpoint: o.NeutronEndpoint}, nil
}

// NoAuthServiceClient is the client of a service reached without authentication at
// endpoint (noauth sessions only).
func (s *Session) NoAuthServiceClient(serviceType, endpoint string) *gophercloud.ServiceClient {
	pc := &gophercloud.ProviderClient{HTTPClient: *s.HTTP}
	pc.UserAgent.Prepend(userAgent)
	return &gophercloud.ServiceClient{ProviderClient: pc, Endpoint: gophercloud.NormalizeURL(endpoint), Type: serviceType}
}

func httpClient(o Options, tlsConfig *tls.Config) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Many reconcilers share one Neutron: keep enough idle connections for all of them.
	tr.MaxIdleConnsPerHost = 64
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if o.Insecure {
		tlsConfig.InsecureSkipVerify = true //nolint:gosec // explicitly requested by [neutron] insecure
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in CA file %s", o.CAFile)
		}
		tlsConfig.RootCAs = pool
	}
	tr.TLSClientConfig = tlsConfig
	return &http.Client{Transport: tr, Timeout: o.Timeout}, nil
}

// Describe says how the session reaches OpenStack, for start-up logs.
func Describe(o Options) string {
	switch o.AuthType {
	case AuthNoAuth:
		return "noauth " + o.NeutronEndpoint
	case AuthClouds:
		return "clouds.yaml cloud " + o.Cloud
	default:
		return "keystone " + strings.TrimSpace(o.Auth.IdentityEndpoint)
	}
}
