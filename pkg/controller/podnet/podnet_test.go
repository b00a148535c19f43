package podnet

import (
	"context"
	"errors"
	"testing"

	"github.com/go-logr/logr"

	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/fake"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/keystone"
)

func TestResolveStatic(t *testing.T) {
	ok := config.NeutronDefaults{Project: "proj", PodSubnet: "subnet-1", PodSecurityGroups: []string{"sg-1"}}
	osc := fake.New()
	s, err := ResolveStatic(context.Background(), osc, fake.NoKeystone(), ok, logr.Discard())
	if err != nil || s.T.Network.ID != "net-1" || s.T.Subnets[0].CIDR != "10.0.0.64/26" {
		t.Fatalf("ResolveStatic = %+v, %v", s, err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*config.NeutronDefaults)
		want   string
	}{
		{"subnet", func(d *config.NeutronDefaults) { d.PodSubnet = "nope" }, "kuryr.conf: [neutron_defaults] pod_subnet: subnet nope does not exist in Neutron"},
		{"sg", func(d *config.NeutronDefaults) { d.PodSecurityGroups = []string{"sg-1", "nope"} }, "kuryr.conf: [neutron_defaults] pod_security_groups: security group nope does not exist in Neutron"},
		{"service subnet", func(d *config.NeutronDefaults) { d.ServiceSubnet = "nope" }, "kuryr.conf: [neutron_defaults] service_subnet: subnet nope does not exist in Neutron"},
	} {
		d := ok
		tc.mutate(&d)
		if _, err := ResolveStatic(context.Background(), osc, fake.NoKeystone(), d, logr.Discard()); err == nil || err.Error() != tc.want {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := ResolveStatic(context.Background(), osc, fake.NewKeystone(keystone.Project{ID: "other"}), ok, logr.Discard()); err == nil ||
		err.Error() != "kuryr.conf: [neutron_defaults] project: project proj does not exist in Keystone" {
		t.Errorf("project: error = %v", err)
	}
	down := fake.New()
	down.Fail = func(openstack.Op) error {
		return openstack.NewError("get subnet", openstack.ClassTransient, "connection refused")
	}
	_, err = ResolveStatic(context.Background(), down, fake.NoKeystone(), ok, logr.Discard())
	if !openstack.IsRetryable(err) {
		t.Errorf("Neutron down: error %v should stay retryable", err)
	}
	var oe *config.OptionError
	if !errors.As(err, &oe) || oe.Option != "pod_subnet" {
		t.Errorf("Neutron down: error %v should still name the option", err)
	}
}
