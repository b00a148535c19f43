package plug

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"unicode"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

// DefaultBridge is the OVS bridge a Plugger without a configured Bridge plugs into, the
// default of [neutron_defaults] ovs_bridge.
const DefaultBridge = "br-int"

// maxIfNameLen is the longest Linux interface name (IFNAMSIZ without the NUL).
const maxIfNameLen = 15

// portIDPattern is the syntax of a Neutron port ID: a UUID.
var portIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ValidIfName checks a pod-side interface name: 1 to 15 bytes, no '/', no whitespace, not
// "." or "..".
func ValidIfName(name string) error {
	switch {
	case name == "":
		return errors.New("interface name is empty")
	case len(name) > maxIfNameLen:
		return fmt.Errorf("interface name %q is longer than %d bytes", name, maxIfNameLen)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is not allowed", name)
	case strings.ContainsRune(name, '/'):
		return fmt.Errorf("interface name %q contains '/'", name)
	case strings.IndexFunc(name, unicode.IsSpace) >= 0:
		return fmt.Errorf("interface name %q contains whitespace", name)
	}
	return nil
}

// ValidateRequest checks a plug request against the node's bridge (DefaultBridge when
// empty): the sandbox, the pod-side interface name and the VIF.
func ValidateRequest(req *Request, bridge string) error {
	switch {
	case req.Netns == "":
		return errors.New("no network namespace")
	case req.ContainerID == "":
		return errors.New("no container ID")
	}
	if err := ValidIfName(req.IfName); err != nil {
		return err
	}
	return ValidateVIF(req.VIF, bridge)
}

// ValidateVIF checks what plugging a VIF needs, with or without a sandbox. Every host-side
// name is derived from the port ID, so the ID must be a UUID, a vifName other than the
// derived one is refused, and so is any bridge but the node's (DefaultBridge when empty).
func ValidateVIF(vif *apiv1.VIF, bridge string) error {
	if bridge == "" {
		bridge = DefaultBridge
	}
	switch {
	case vif == nil:
		return errors.New("no VIF")
	case vif.ID == "":
		return errors.New("VIF has no port ID")
	case !portIDPattern.MatchString(vif.ID):
		return fmt.Errorf("VIF port ID %q is not a UUID", vif.ID)
	case vif.Bridge == "":
		return fmt.Errorf("VIF %s has no bridge", vif.ID)
	case vif.Bridge != bridge:
		return fmt.Errorf("VIF %s has bridge %q; this node plugs into %q only", vif.ID, vif.Bridge, bridge)
	case vif.VIFName != "" && vif.VIFName != apiv1.VIFNameForPort(vif.ID):
		return fmt.Errorf("VIF %s has device name %q, not %q", vif.ID, vif.VIFName, apiv1.VIFNameForPort(vif.ID))
	}
	if _, err := net.ParseMAC(vif.Address); err != nil {
		return fmt.Errorf("VIF %s has an invalid MAC %q: %w", vif.ID, vif.Address, err)
	}
	switch vif.PlugMode {
	case "", apiv1.PlugModeNative, apiv1.PlugModeHybrid:
	default:
		return fmt.Errorf("VIF %s has unsupported plug mode %q", vif.ID, vif.PlugMode)
	}
	return nil
}
