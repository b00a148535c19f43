// Package plugtest provides a stand-in for OVS in tests: an in-memory port table with the
// same external_ids semantics, optionally enslaving ports to a Linux bridge so that traffic
// flows in root tests.
package plugtest

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/vishvananda/netlink"

	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
)

// Switch is an in-memory OVS.
type Switch struct {
	// LinuxBridge, when set, is a Linux bridge every added port is attached to.
	LinuxBridge string
	// FailAdd makes AddPort fail (rollback tests).
	FailAdd error

	mu    sync.Mutex
	ports map[string]ovs.Interface
	tags  map[string]int
	// Calls records operations ("add tapX", "del tapX").
	Calls []string
}

// AddPort records the port (keeping an existing one, like --may-exist) and sets its IDs.
func (s *Switch) AddPort(_ context.Context, bridge, port string, ids map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Calls = append(s.Calls, "add "+port)
	if s.FailAdd != nil {
		return s.FailAdd
	}
	if s.ports == nil {
		s.ports = map[string]ovs.Interface{}
	}
	if s.LinuxBridge != "" {
		link, err := netlinksafe.LinkByName(port)
		if err != nil {
			return fmt.Errorf("fake switch: %w", err)
		}
		br, err := netlinksafe.LinkByName(s.LinuxBridge)
		if err != nil {
			return fmt.Errorf("fake switch: %w", err)
		}
		if err := netlink.LinkSetMaster(link, br); err != nil {
			return fmt.Errorf("fake switch: %w", err)
		}
	}
	iface := s.ports[port]
	iface.Name = port
	if iface.ExternalIDs == nil {
		iface.ExternalIDs = map[string]string{}
	}
	maps.Copy(iface.ExternalIDs, ids)
	s.ports[port] = iface
	_ = bridge
	return nil
}

// SetExternalIDs updates an existing port's IDs.
func (s *Switch) SetExternalIDs(_ context.Context, port string, set map[string]string, remove []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Calls = append(s.Calls, "set "+port)
	iface, ok := s.ports[port]
	if !ok {
		return fmt.Errorf("fake switch: no interface %s", port)
	}
	maps.Copy(iface.ExternalIDs, set)
	for _, k := range remove {
		delete(iface.ExternalIDs, k)
	}
	return nil
}

// DelPort forgets the port.
func (s *Switch) DelPort(_ context.Context, port string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Calls = append(s.Calls, "del "+port)
	delete(s.ports, port)
	delete(s.tags, port)
	return nil
}

// FindInterfaces returns ports whose external ID key equals value.
func (s *Switch) FindInterfaces(_ context.Context, key, value string) ([]ovs.Interface, error) {
	return s.filter(func(i ovs.Interface) bool { return i.ExternalIDs[key] == value }), nil
}

// Interface returns the port named name.
func (s *Switch) Interface(_ context.Context, name string) (ovs.Interface, bool, error) {
	i, ok := s.Port(name)
	return i, ok, nil
}

// ListInterfaces returns ports that have key.
func (s *Switch) ListInterfaces(_ context.Context, key string) ([]ovs.Interface, error) {
	return s.filter(func(i ovs.Interface) bool { _, ok := i.ExternalIDs[key]; return ok }), nil
}

// PortTag returns a tag set with SetTag.
func (s *Switch) PortTag(_ context.Context, port string, _ time.Time) (int, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tags[port]
	return t, ok, nil
}

// SetTag simulates the OVS agent processing a port.
func (s *Switch) SetTag(port string, tag int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tags == nil {
		s.tags = map[string]int{}
	}
	s.tags[port] = tag
}

// Port returns a port and whether it exists.
func (s *Switch) Port(name string) (ovs.Interface, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.ports[name]
	return i, ok
}

// Ports returns the port names, sorted.
func (s *Switch) Ports() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.ports))
	for n := range s.ports {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *Switch) filter(pred func(ovs.Interface) bool) []ovs.Interface {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res []ovs.Interface
	for _, i := range s.ports {
		if pred(i) {
			res = append(res, ovs.Interface{Name: i.Name, ExternalIDs: maps.Clone(i.ExternalIDs)})
		}
	}
	sort.Slice(res, func(a, b int) bool { return res[a].Name < res[b].Name })
	return res
}
