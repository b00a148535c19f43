// Package fake has in-memory OpenStack services for tests, one per service (Neutron,
// Keystone), with call counting and error injection per operation shared by all of them.
package fake

import (
	"sync"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
)

// Faults counts the calls of a fake service and injects failures. The zero value is ready.
type Faults struct {
	mu    sync.Mutex
	calls map[openstack.Op]int
	// Fail, if set, is called before each operation; a non-nil result is returned instead
	// of doing the operation.
	Fail func(op openstack.Op) error
}

// Calls returns how often op was called.
func (f *Faults) Calls(op openstack.Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// SetFail replaces the failure injection; safe while the fake is in use.
func (f *Faults) SetFail(fail func(op openstack.Op) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Fail = fail
}

// begin counts one call of op and returns the injected failure, if any.
func (f *Faults) begin(op openstack.Op) error {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[openstack.Op]int{}
	}
	f.calls[op]++
	fail := f.Fail
	f.mu.Unlock()
	if fail != nil {
		return fail(op)
	}
	return nil
}
