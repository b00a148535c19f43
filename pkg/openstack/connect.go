package openstack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"

	"github.com/kuryr-go/kuryr-go/pkg/config"
)

const userAgent = "kuryr-go"

// Connect builds the Client the [neutron] group describes: noauth with an explicit
// endpoint, Keystone password auth, or a clouds.yaml entry.
func Connect(ctx context.Context, c config.Neutron) (Client, error) {
	switch c.AuthType {
	case config.AuthNoAuth:
		return NewNoAuth(c)
	case config.AuthClouds:
		return connectClouds(ctx, c)
	default:
		return connectPassword(ctx, c)
	}
}

// NewNoAuth talks to a Neutron running with auth_strategy = noauth. No authentication
// header is sent at all: Neutron's noauth middleware would take an X-Project-Id as the
// caller's project and reject creates for other projects. project_id goes into every body.
func NewNoAuth(c config.Neutron) (Client, error) {
	hc, err := httpClient(c, nil)
	if err != nil {
		return nil, err
	}
	pc := &gophercloud.ProviderClient{HTTPClient: *hc}
	pc.UserAgent.Prepend(userAgent)
	ep := gophercloud.NormalizeURL(c.Endpoint)
	sc := &gophercloud.ServiceClient{ProviderClient: pc, Endpoint: ep, ResourceBase: ep + "v2.0/", Type: "network"}
	return NewFromServiceClients(sc, nil), nil
}

func connectPassword(ctx context.Context, c config.Neutron) (Client, error) {
	ao := gophercloud.AuthOptions{
		IdentityEndpoint: c.AuthURL,
		Username:         c.Username,
		UserID:           c.UserID,
		Password:         c.Password,
		DomainName:       c.UserDomainName,
		DomainID:         c.UserDomainID,
		AllowReauth:      true,
		Scope: &gophercloud.AuthScope{
			ProjectName: c.ProjectName, ProjectID: c.ProjectID,
			DomainName: c.ProjectDomainName, DomainID: c.ProjectDomainID,
		},
	}
	if c.ProjectID != "" { // Keystone rejects a scope with both a project ID and a domain
		ao.Scope.DomainName, ao.Scope.DomainID = "", ""
	}
	eo := gophercloud.EndpointOpts{Region: c.RegionName, Availability: gophercloud.Availability(c.EndpointType)}
	return authenticate(ctx, c, ao, eo, nil)
}

func connectClouds(ctx context.Context, c config.Neutron) (Client, error) {
	opts := []clouds.ParseOption{clouds.WithCloudName(c.Cloud)}
	if c.CloudsFile != "" {
		opts = append(opts, clouds.WithLocations(c.CloudsFile))
	}
	if c.RegionName != "" {
		opts = append(opts, clouds.WithRegion(c.RegionName))
	}
	ao, eo, tlsConfig, err := clouds.Parse(opts...)
	if err != nil {
		return nil, fmt.Errorf("reading clouds.yaml cloud %q: %w", c.Cloud, err)
	}
	ao.AllowReauth = true
	return authenticate(ctx, c, ao, eo, tlsConfig)
}

func authenticate(ctx context.Context, c config.Neutron, ao gophercloud.AuthOptions, eo gophercloud.EndpointOpts, tlsConfig *tls.Config) (Client, error) {
	pc, err := openstack.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return nil, fmt.Errorf("keystone client for %s: %w", ao.IdentityEndpoint, err)
	}
	hc, err := httpClient(c, tlsConfig)
	if err != nil {
		return nil, err
	}
	pc.HTTPClient = *hc
	pc.UserAgent.Prepend(userAgent)
	if err := openstack.Authenticate(ctx, pc, ao); err != nil {
		return nil, wrap("authenticate to keystone", err)
	}
	network, err := openstack.NewNetworkV2(pc, eo)
	if err != nil {
		return nil, fmt.Errorf("finding neutron in the service catalog: %w", err)
	}
	if c.Endpoint != "" {
		network.Endpoint = gophercloud.NormalizeURL(c.Endpoint)
		network.ResourceBase = network.Endpoint + "v2.0/"
	}
	identity, err := openstack.NewIdentityV3(pc, eo)
	if err != nil {
		identity = nil // project validation is skipped then
	}
	return NewFromServiceClients(network, identity), nil
}

func httpClient(c config.Neutron, tlsConfig *tls.Config) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Many reconcilers share one Neutron: keep enough idle connections for all of them.
	tr.MaxIdleConnsPerHost = 64
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.Insecure {
		tlsConfig.InsecureSkipVerify = true //nolint:gosec // explicitly requested by [neutron] insecure
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kuryr.conf: [neutron] cafile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kuryr.conf: [neutron] cafile: no certificate in %s", c.CAFile)
		}
		tlsConfig.RootCAs = pool
	}
	tr.TLSClientConfig = tlsConfig
	return &http.Client{Transport: tr, Timeout: c.Timeout}, nil
}

// Describe says how the client reaches OpenStack, for the start-up log.
func Describe(c config.Neutron) string {
	switch c.AuthType {
	case config.AuthNoAuth:
		return "noauth " + c.Endpoint
	case config.AuthClouds:
		return "clouds.yaml cloud " + c.Cloud
	default:
		return "keystone " + strings.TrimSpace(c.AuthURL)
	}
}
