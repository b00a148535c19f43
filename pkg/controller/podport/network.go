package podport

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-logr/logr"

	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
)

// PodNetwork is what every pod port is created from. It is resolved once at start-up:
// subnets and networks do not change under a running cluster, and caching them keeps the
// per-pod path at one Neutron request.
type PodNetwork struct {
	ProjectID      string
	Network        *openstack.Network
	Subnet         *openstack.Subnet
	SecurityGroups []string
}

// ResolvePodNetwork checks that the [neutron_defaults] resources exist and returns them.
// Errors name the option at fault. The project is only checked when Keystone is reachable.
func ResolvePodNetwork(ctx context.Context, osc openstack.Client, nd config.NeutronDefaults, log logr.Logger) (*PodNetwork, error) {
	subnet, err := osc.GetSubnet(ctx, nd.PodSubnet)
	if err != nil {
		return nil, optionErr("pod_subnet", "subnet", nd.PodSubnet, err)
	}
	network, err := osc.GetNetwork(ctx, subnet.NetworkID)
	if err != nil {
		return nil, optionErr("pod_subnet", "network of subnet", nd.PodSubnet, err)
	}
	for _, sg := range nd.PodSecurityGroups {
		if _, err := osc.GetSecurityGroup(ctx, sg); err != nil {
			return nil, optionErr("pod_security_groups", "security group", sg, err)
		}
	}
	for opt, id := range map[string]string{"service_subnet": nd.ServiceSubnet, "external_svc_subnet": nd.ExternalSvcSubnet} {
		if id == "" {
			continue
		}
		if _, err := osc.GetSubnet(ctx, id); err != nil {
			return nil, optionErr(opt, "subnet", id, err)
		}
	}
	switch _, err := osc.GetProject(ctx, nd.Project); {
	case err == nil:
	case errors.Is(err, openstack.ErrNotSupported):
		log.Info("Project cannot be checked without Keystone; using it as configured", "project", nd.Project)
	case openstack.IsNotFound(err):
		return nil, optionErr("project", "project", nd.Project, err)
	default:
		log.Info("Project could not be checked", "project", nd.Project, "error", err.Error())
	}
	return &PodNetwork{
		ProjectID: nd.Project, Network: network, Subnet: subnet,
		SecurityGroups: append([]string(nil), nd.PodSecurityGroups...),
	}, nil
}

func optionErr(opt, what, id string, err error) error {
	problem := fmt.Sprintf("%s %s: %v", what, id, err)
	if openstack.IsNotFound(err) {
		problem = fmt.Sprintf("%s %s does not exist in Neutron", what, id)
	}
	oe := &config.OptionError{Group: "neutron_defaults", Option: opt, Problem: problem}
	if opt == "project" {
		oe.Problem = fmt.Sprintf("project %s does not exist in Keystone", id)
	}
	return &startupError{oe: oe, err: err}
}

// startupError keeps the classified OpenStack error reachable (errors.As) behind the
// one-line option message, so callers can tell "does not exist" from "Neutron is down".
type startupError struct {
	oe  *config.OptionError
	err error
}

func (e *startupError) Error() string { return e.oe.Error() }
func (e *startupError) Unwrap() []error {
	return []error{e.oe, e.err}
}
