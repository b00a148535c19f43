// Package podnet decides where a pod's port lives: its project, network, subnets and
// security groups (a Target). The controllers ask a Resolver; today's resolver is static
// (the [neutron_defaults] options, checked and cached at start-up). Per-namespace networks
// and policy security groups plug in here, so podport stays the only writer of pod ports
// and converges each port to its pod's Target.
package podnet

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/config"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/keystone"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/vif"
)

// Target is where a pod's port lives.
type Target struct {
	ProjectID string
	Network   *neutron.Network
	// Subnets are the subnets a port gets one address in, by ID.
	Subnets        []*neutron.Subnet
	SecurityGroups []string
}

// SubnetIDs returns the IDs of t's subnets.
func (t *Target) SubnetIDs() []string {
	ids := make([]string, 0, len(t.Subnets))
	for _, s := range t.Subnets {
		ids = append(ids, s.ID)
	}
	return ids
}

// VIF describes port as a VIF of t's network.
func (t *Target) VIF(port *neutron.Port, o vif.Options) apiv1.VIF {
	subnets := make(map[string]*neutron.Subnet, len(t.Subnets))
	for _, s := range t.Subnets {
		subnets[s.ID] = s
	}
	return vif.FromPort(port, t.Network, subnets, o)
}

// Holds reports whether port lives where t says: t's project and network.
func (t *Target) Holds(port *neutron.Port) bool {
	return port.NetworkID == t.Network.ID && (port.ProjectID == "" || port.ProjectID == t.ProjectID)
}

// SameSecurityGroups reports whether port has exactly t's security groups.
func (t *Target) SameSecurityGroups(port *neutron.Port) bool {
	a, b := slices.Clone(port.SecurityGroups), slices.Clone(t.SecurityGroups)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// Resolver gives the Target of a pod.
type Resolver interface {
	For(ctx context.Context, pod *corev1.Pod) (*Target, error)
	// Targets lists every target the resolver can give (the networks kuryr-go manages):
	// the orphan sweep and the pools only look there.
	Targets() []*Target
}

// Static gives every pod the same Target.
type Static struct{ T *Target }

// For returns the one Target.
func (s *Static) For(context.Context, *corev1.Pod) (*Target, error) { return s.T, nil }

// Targets returns the one Target.
func (s *Static) Targets() []*Target { return []*Target{s.T} }

// ResolveStatic checks that the [neutron_defaults] resources exist and returns the static
// resolver. Errors name the option at fault. The project is only checked when Keystone is
// reachable.
func ResolveStatic(ctx context.Context, n neutron.Client, k keystone.Client, nd config.NeutronDefaults, log logr.Logger) (*Static, error) {
	subnet, err := n.GetSubnet(ctx, nd.PodSubnet)
	if err != nil {
		return nil, optionErr("pod_subnet", "subnet", nd.PodSubnet, err)
	}
	network, err := n.GetNetwork(ctx, subnet.NetworkID)
	if err != nil {
		return nil, optionErr("pod_subnet", "network of subnet", nd.PodSubnet, err)
	}
	for _, sg := range nd.PodSecurityGroups {
		if _, err := n.GetSecurityGroup(ctx, sg); err != nil {
			return nil, optionErr("pod_security_groups", "security group", sg, err)
		}
	}
	for opt, id := range map[string]string{"service_subnet": nd.ServiceSubnet, "external_svc_subnet": nd.ExternalSvcSubnet} {
		if id == "" {
			continue
		}
		if _, err := n.GetSubnet(ctx, id); err != nil {
			return nil, optionErr(opt, "subnet", id, err)
		}
	}
	switch _, err := k.GetProject(ctx, nd.Project); {
	case err == nil:
	case errors.Is(err, openstack.ErrNotSupported):
		log.Info("Project cannot be checked without Keystone; using it as configured", "project", nd.Project)
	case openstack.IsNotFound(err):
		return nil, optionErr("project", "project", nd.Project, err)
	default:
		log.Info("Project could not be checked", "project", nd.Project, "error", err.Error())
	}
	return &Static{T: &Target{
		ProjectID: nd.Project, Network: network, Subnets: []*neutron.Subnet{subnet},
		SecurityGroups: slices.Clone(nd.PodSecurityGroups),
	}}, nil
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
