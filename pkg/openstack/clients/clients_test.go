package clients

import (
	"testing"

	"github.com/kuryr-go/kuryr-go/pkg/config"
)

func TestOptionsFromNeutronGroup(t *testing.T) {
	o := Options(config.Neutron{AuthType: "password", AuthURL: "http://k:5000/v3", Username: "kuryr", Password: "pw",
		ProjectID: "p1", ProjectDomainName: "Default", UserDomainName: "Default", RegionName: "r1", EndpointType: "internal"})
	if o.Auth.Scope == nil || o.Auth.Scope.ProjectID != "p1" || o.Auth.Scope.DomainName != "" {
		t.Errorf("scope = %+v: a project ID must not come with a domain", o.Auth.Scope)
	}
	if o.Auth.IdentityEndpoint != "http://k:5000/v3" || o.Auth.DomainName != "Default" || o.Endpoints.Region != "r1" ||
		string(o.Endpoints.Availability) != "internal" {
		t.Errorf("options = %+v", o)
	}
	if o := Options(config.Neutron{ProjectName: "k8s", ProjectDomainName: "Default"}); o.Auth.Scope.DomainName != "Default" {
		t.Errorf("a project name needs its domain: %+v", o.Auth.Scope)
	}
	if d := Describe(config.Neutron{AuthType: "noauth", Endpoint: "http://n:9696"}); d != "noauth http://n:9696" {
		t.Errorf("Describe = %q", d)
	}
}
