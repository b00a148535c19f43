// Package clients connects to OpenStack as kuryr.conf's [neutron] group says and builds
// the service clients the binaries use.
package clients

import (
	"context"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/keystone"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// Clients are the service clients of one session.
type Clients struct {
	Neutron  neutron.Client
	Keystone keystone.Client
}

// Options translates the [neutron] group into session options.
func Options(c config.Neutron) openstack.Options {
	scope := &gophercloud.AuthScope{ProjectName: c.ProjectName, ProjectID: c.ProjectID,
		DomainName: c.ProjectDomainName, DomainID: c.ProjectDomainID}
	if c.ProjectID != "" { // Keystone rejects a scope with both a project ID and a domain
		scope.DomainName, scope.DomainID = "", ""
	}
	return openstack.Options{
		AuthType: c.AuthType,
		Auth: gophercloud.AuthOptions{IdentityEndpoint: c.AuthURL, Username: c.Username, UserID: c.UserID,
			Password: c.Password, DomainName: c.UserDomainName, DomainID: c.UserDomainID, Scope: scope},
		Endpoints:       gophercloud.EndpointOpts{Region: c.RegionName, Availability: gophercloud.Availability(c.EndpointType)},
		NeutronEndpoint: c.Endpoint, Cloud: c.Cloud, CloudsFile: c.CloudsFile,
		CAFile: c.CAFile, Insecure: c.Insecure, Timeout: c.Timeout,
	}
}

// Connect authenticates as c says and builds the clients.
func Connect(ctx context.Context, c config.Neutron) (*Clients, error) {
	s, err := openstack.Connect(ctx, Options(c))
	if err != nil {
		return nil, err
	}
	n, err := neutron.New(s)
	if err != nil {
		return nil, err
	}
	k, err := keystone.New(s)
	if err != nil {
		return nil, err
	}
	return &Clients{Neutron: n, Keystone: k}, nil
}

// Describe says how c reaches OpenStack, for start-up logs.
func Describe(c config.Neutron) string { return openstack.Describe(Options(c)) }
