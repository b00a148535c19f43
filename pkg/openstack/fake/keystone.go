package fake

import (
	"context"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/keystone"
)

// Keystone is an in-memory Keystone. Without projects (NoKeystone) it answers like a
// session without Keystone.
type Keystone struct {
	Faults
	projects map[string]keystone.Project
}

var _ keystone.Client = (*Keystone)(nil)

// NewKeystone returns a Keystone that knows projects.
func NewKeystone(projects ...keystone.Project) *Keystone {
	k := &Keystone{projects: map[string]keystone.Project{}}
	for _, p := range projects {
		k.projects[p.ID] = p
	}
	return k
}

// NoKeystone returns a client whose calls return openstack.ErrNotSupported.
func NoKeystone() *Keystone { return &Keystone{} }

// GetProject implements keystone.Client.
func (k *Keystone) GetProject(_ context.Context, id string) (*keystone.Project, error) {
	if err := k.begin(keystone.OpGetProject); err != nil {
		return nil, err
	}
	if k.projects == nil {
		return nil, openstack.ErrNotSupported
	}
	p, ok := k.projects[id]
	if !ok {
		return nil, notFound(keystone.OpGetProject, "Project", id)
	}
	return &p, nil
}
