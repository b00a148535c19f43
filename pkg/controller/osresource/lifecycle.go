// Package osresource is the lifecycle every controller uses for the OpenStack resources
// it owns, whatever their kind (a pod's port today; load balancers, security groups and
// networks behind the other CRDs):
//
//	ensure:  stored ID -> verified as the owner's -> adopt by owner tag -> create
//	release: verified as the owner's -> delete until gone
//	errors:  classified once -> condition + Event + requeue (Classify)
//
// A resource is only ever used, adopted or deleted after Check has accepted it: an ID
// written in a CRD by a user, or a resource carrying an owner's UID that someone else
// created, is reported and left alone. Nothing here waits on OpenStack: callers requeue.
package osresource

import (
	"context"
	"errors"
	"fmt"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
)

// Actuator is one kind of OpenStack resource as the lifecycle of one owner sees it.
//
//   - Get MUST return an error of class not_found when the resource does not exist.
//   - Check MUST NOT call OpenStack; it returns nil when the resource is the owner's
//     (ownership tags, project, network, ...), else why it is not.
//   - Adoptable MUST list only where the owner's resources can be (owner tag, project,
//     network), oldest first, and MUST fail rather than return a partial list.
//   - Create MUST create the resource with the owner's tags in the same request, so a
//     crash right after it is adopted by the next reconcile instead of leaking.
//   - Delete MUST treat a resource that is already gone as deleted.
type Actuator[R any] interface {
	ID(r *R) string
	Get(ctx context.Context, id string) (*R, error)
	Check(r *R) error
	Adoptable(ctx context.Context) ([]R, error)
	Create(ctx context.Context) (*R, error)
	Delete(ctx context.Context, id string) error
}

// Outcome says how Ensure found the resource.
type Outcome string

// Outcomes of Ensure.
const (
	Found   Outcome = "found"
	Adopted Outcome = "adopted"
	Created Outcome = "created"
)

// Refused is a resource that Check did not accept: it was not used, changed or deleted.
type Refused struct {
	ID  string
	Why error
}

// Ensured is the result of Ensure.
type Ensured[R any] struct {
	Resource *R
	Outcome  Outcome
	// Gone is the stored ID when that resource no longer exists in OpenStack.
	Gone string
	// Refused are the resources found (by stored ID or owner tag) that are not the owner's.
	Refused []Refused
	// Duplicates are extra resources of the owner deleted during adoption.
	Duplicates []string
}

// EnsureOptions are the shortcuts a caller may know of.
type EnsureOptions[R any] struct {
	// StoredID is the ID recorded for the owner (its CRD status, or the caller's memory).
	StoredID string
	// Read is the stored resource when the caller already has it (a poll just read it).
	Read *R
	// Fresh says the owner was created by this very reconcile: nothing can exist yet, so
	// the adoption list is skipped.
	Fresh bool
}

// Ensure returns the owner's resource: the stored one if it exists and is the owner's,
// else one adopted by owner tag, else a new one. A failed lookup never creates: that is
// how duplicates happen.
func Ensure[R any](ctx context.Context, a Actuator[R], o EnsureOptions[R]) (Ensured[R], error) {
	var res Ensured[R]
	if o.StoredID != "" {
		r := o.Read
		if r == nil {
			var err error
			r, err = a.Get(ctx, o.StoredID)
			switch {
			case openstack.IsNotFound(err):
				res.Gone = o.StoredID
			case err != nil:
				return res, err
			}
		}
		if r != nil {
			if why := a.Check(r); why != nil {
				res.Refused = append(res.Refused, Refused{ID: a.ID(r), Why: why})
			} else {
				res.Resource, res.Outcome = r, Found
				return res, nil
			}
		}
	}
	if !o.Fresh {
		found, err := a.Adoptable(ctx)
		if err != nil {
			return res, fmt.Errorf("looking for resources to adopt: %w", err)
		}
		for i := range found {
			r := &found[i]
			if why := a.Check(r); why != nil {
				res.Refused = append(res.Refused, Refused{ID: a.ID(r), Why: why})
				continue
			}
			if res.Resource == nil {
				res.Resource, res.Outcome = r, Adopted
				continue
			}
			// Another resource of the same owner: only a crash or an outside create makes
			// one, and nobody else can be using it.
			if err := a.Delete(ctx, a.ID(r)); err != nil {
				return res, fmt.Errorf("deleting duplicate %s: %w", a.ID(r), err)
			}
			res.Duplicates = append(res.Duplicates, a.ID(r))
		}
		if res.Resource != nil {
			return res, nil
		}
	}
	r, err := a.Create(ctx)
	if err != nil {
		return res, err
	}
	res.Resource, res.Outcome = r, Created
	return res, nil
}

// ErrRefused is returned by Release for a resource that is not the owner's.
var ErrRefused = errors.New("not the owner's resource")

// Release deletes the owner's resource id. Unless trusted (the caller created or
// verified it itself), the resource is read and checked first: a resource that is gone
// is released, one that is not the owner's is left alone (an error wrapping ErrRefused).
func Release[R any](ctx context.Context, a Actuator[R], id string, trusted bool) error {
	if !trusted {
		r, err := a.Get(ctx, id)
		switch {
		case openstack.IsNotFound(err):
			return nil
		case err != nil:
			return err
		}
		if why := a.Check(r); why != nil {
			return fmt.Errorf("%s: %w: %w", id, ErrRefused, why)
		}
	}
	return a.Delete(ctx, id)
}
