// Package keystone is the Keystone client: projects.
package keystone

import (
	"context"
	"fmt"

	"github.com/gophercloud/gophercloud/v2"
	gcopenstack "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
)

// OpGetProject is the operation of a project lookup.
const OpGetProject openstack.Op = "get project"

// Client is what the controllers need from Keystone.
type Client interface {
	// GetProject looks a project up; openstack.ErrNotSupported without Keystone.
	GetProject(ctx context.Context, id string) (*Project, error)
}

// Project is a Keystone project.
type Project struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

// New builds the Keystone client of a session. A session without Keystone (noauth) gives
// a client whose calls return openstack.ErrNotSupported.
func New(s *openstack.Session) (Client, error) {
	if s.Provider == nil {
		return None(), nil
	}
	sc, err := gcopenstack.NewIdentityV3(s.Provider, s.Endpoints)
	if err != nil {
		return nil, fmt.Errorf("finding keystone in the service catalog: %w", err)
	}
	return &keystone{identity: sc}, nil
}

// None is the client of a session without Keystone.
func None() Client { return none{} }

type none struct{}

func (none) GetProject(context.Context, string) (*Project, error) {
	return nil, openstack.ErrNotSupported
}

type keystone struct{ identity *gophercloud.ServiceClient }

func (k *keystone) GetProject(ctx context.Context, id string) (*Project, error) {
	var p *projects.Project
	err := openstack.Call(OpGetProject, func() error {
		var err error
		p, err = projects.Get(ctx, k.identity, id).Extract()
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Project{ID: p.ID, Name: p.Name, Enabled: p.Enabled}, nil
}
