package ovs

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// External IDs that make the Neutron OVS agent (or OVN) wire a port.
const (
	KeyIfaceID     = "iface-id"
	KeyAttachedMAC = "attached-mac"
	KeyIfaceStatus = "iface-status"
	KeyVMUUID      = "vm-uuid"
)

// External IDs kuryr records on its interfaces. They are the daemon's durable state: a
// restarted daemon finds its ports, and a DEL only removes the port of its own sandbox.
const (
	KeyContainerID  = "kuryr-container-id"
	KeyPodNamespace = "kuryr-pod-namespace"
	KeyPodName      = "kuryr-pod-name"
	KeyIfName       = "kuryr-ifname"
	KeyNetns        = "kuryr-netns"
	KeyPlugMode     = "kuryr-plug-mode"
	// KeyParked marks a free pool port plugged ahead of any pod; its value is the network
	// namespace that holds the port's pod-side interface until a pod takes it.
	KeyParked = "kuryr-parked"
)

// Interface is an OVS Interface row kuryr cares about.
type Interface struct {
	Name        string
	ExternalIDs map[string]string
}

// Client runs ovs-vsctl.
type Client struct {
	Runner Runner
	// Binary is the ovs-vsctl path (default "ovs-vsctl").
	Binary string
	// Timeout is passed as --timeout so a hung ovsdb-server cannot block a request forever.
	Timeout time.Duration
	// DB is an optional --db argument (e.g. unix:/var/run/openvswitch/db.sock).
	DB string
}

// NewClient returns a client running the real ovs-vsctl.
func NewClient(timeout time.Duration) *Client {
	return &Client{Runner: ExecRunner{}, Binary: "ovs-vsctl", Timeout: timeout}
}

func (c *Client) vsctl(ctx context.Context, args ...string) (string, error) {
	bin := c.Binary
	if bin == "" {
		bin = "ovs-vsctl"
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	// Whole seconds, rounded up: --timeout=0 would make ovs-vsctl wait forever.
	full := []string{fmt.Sprintf("--timeout=%d", int((timeout+time.Second-1)/time.Second))}
	if c.DB != "" {
		full = append(full, "--db="+c.DB)
	}
	full = append(full, args...)
	out, err := c.Runner.Run(ctx, bin, full...)
	return strings.TrimSpace(string(out)), err
}

// AddPort adds port to bridge (keeping it if it is already there) and sets the interface's
// external IDs in the same transaction.
func (c *Client) AddPort(ctx context.Context, bridge, port string, externalIDs map[string]string) error {
	args := []string{"--", "--may-exist", "add-port", bridge, port}
	if len(externalIDs) > 0 {
		args = append(args, "--", "set", "Interface", port)
		for _, k := range sortedKeys(externalIDs) {
			args = append(args, fmt.Sprintf("external_ids:%s=%s", k, quote(externalIDs[k])))
		}
	}
	if _, err := c.vsctl(ctx, args...); err != nil {
		return fmt.Errorf("adding port %s to bridge %s: %w", port, bridge, err)
	}
	return nil
}

// SetExternalIDs sets and removes external IDs of an existing interface in one
// transaction; it fails when the interface does not exist. It does not wait for
// ovs-vswitchd (--no-wait): nothing in the datapath changes, and the agent reads the
// database.
func (c *Client) SetExternalIDs(ctx context.Context, iface string, set map[string]string, remove []string) error {
	args := []string{"--no-wait"}
	if len(set) > 0 {
		args = append(args, "--", "set", "Interface", iface)
		for _, k := range sortedKeys(set) {
			args = append(args, fmt.Sprintf("external_ids:%s=%s", k, quote(set[k])))
		}
	}
	for _, k := range remove {
		args = append(args, "--", "remove", "Interface", iface, "external_ids", k)
	}
	if len(args) == 1 {
		return nil
	}
	if _, err := c.vsctl(ctx, args...); err != nil {
		return fmt.Errorf("updating the external IDs of %s: %w", iface, err)
	}
	return nil
}

// DelPort removes port from whatever bridge holds it; a missing port is not an error.
func (c *Client) DelPort(ctx context.Context, port string) error {
	if _, err := c.vsctl(ctx, "--if-exists", "del-port", port); err != nil {
		return fmt.Errorf("deleting port %s: %w", port, err)
	}
	return nil
}

// BridgeExists reports whether bridge exists (ovs-vsctl br-exists exits 2 when it does not).
func (c *Client) BridgeExists(ctx context.Context, bridge string) (bool, error) {
	_, err := c.vsctl(ctx, "br-exists", bridge)
	switch {
	case err == nil:
		return true, nil
	case ExitCode(err) == 2:
		return false, nil
	default:
		return false, fmt.Errorf("checking bridge %s: %w", bridge, err)
	}
}

// PortTag returns the port's local VLAN tag. The Neutron OVS agent sets it once it has
// processed the port, so a tag is the earliest local sign that the port is wired. ok is false
// while the tag is unset or the port does not exist.
func (c *Client) PortTag(ctx context.Context, port string) (int, bool, error) {
	out, err := c.vsctl(ctx, "--if-exists", "get", "Port", port, "tag")
	if err != nil {
		return 0, false, fmt.Errorf("reading the tag of port %s: %w", port, err)
	}
	if out == "" || out == "[]" {
		return 0, false, nil
	}
	tag, err := strconv.Atoi(out)
	if err != nil {
		return 0, false, fmt.Errorf("parsing the tag %q of port %s: %w", out, port, err)
	}
	return tag, true, nil
}

// FindInterfaces returns the interfaces whose external_ids[key] equals value.
func (c *Client) FindInterfaces(ctx context.Context, key, value string) ([]Interface, error) {
	out, err := c.vsctl(ctx, "--format=json", "--columns=name,external_ids", "find", "Interface",
		fmt.Sprintf("external_ids:%s=%s", key, quote(value)))
	if err != nil {
		return nil, fmt.Errorf("finding interfaces with %s=%s: %w", key, value, err)
	}
	return parseInterfaces(out)
}

// Interface returns the interface named name; ok is false when there is none.
func (c *Client) Interface(ctx context.Context, name string) (iface Interface, ok bool, err error) {
	out, err := c.vsctl(ctx, "--format=json", "--columns=name,external_ids", "find", "Interface", "name="+quote(name))
	if err != nil {
		return Interface{}, false, fmt.Errorf("looking up interface %s: %w", name, err)
	}
	ifaces, err := parseInterfaces(out)
	if err != nil || len(ifaces) == 0 {
		return Interface{}, false, err
	}
	return ifaces[0], true, nil
}

// ListInterfaces returns every interface that has the external ID key set.
func (c *Client) ListInterfaces(ctx context.Context, key string) ([]Interface, error) {
	out, err := c.vsctl(ctx, "--format=json", "--columns=name,external_ids", "list", "Interface")
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	all, err := parseInterfaces(out)
	if err != nil {
		return nil, err
	}
	var res []Interface
	for _, i := range all {
		if _, ok := i.ExternalIDs[key]; ok {
			res = append(res, i)
		}
	}
	return res, nil
}

// table is ovs-vsctl's --format=json output.
type table struct {
	Headings []string            `json:"headings"`
	Data     [][]json.RawMessage `json:"data"`
}

func parseInterfaces(out string) ([]Interface, error) {
	if out == "" {
		return nil, nil
	}
	var t table
	if err := json.Unmarshal([]byte(out), &t); err != nil {
		return nil, fmt.Errorf("decoding ovs-vsctl output: %w", err)
	}
	nameCol, idsCol := -1, -1
	for i, h := range t.Headings {
		switch h {
		case "name":
			nameCol = i
		case "external_ids":
			idsCol = i
		}
	}
	if nameCol < 0 || idsCol < 0 {
		return nil, fmt.Errorf("decoding ovs-vsctl output: missing columns in %v", t.Headings)
	}
	res := make([]Interface, 0, len(t.Data))
	for _, row := range t.Data {
		if len(row) <= max(nameCol, idsCol) {
			return nil, fmt.Errorf("decoding ovs-vsctl output: short row")
		}
		var name string
		if err := json.Unmarshal(row[nameCol], &name); err != nil {
			return nil, fmt.Errorf("decoding interface name: %w", err)
		}
		ids, err := parseMap(row[idsCol])
		if err != nil {
			return nil, fmt.Errorf("decoding external_ids of %s: %w", name, err)
		}
		res = append(res, Interface{Name: name, ExternalIDs: ids})
	}
	return res, nil
}

// parseMap decodes an OVSDB map: ["map", [["k","v"], ...]].
func parseMap(raw json.RawMessage) (map[string]string, error) {
	var pair []json.RawMessage
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return nil, fmt.Errorf("not an OVSDB map: %s", raw)
	}
	var kind string
	if err := json.Unmarshal(pair[0], &kind); err != nil || kind != "map" {
		return nil, fmt.Errorf("not an OVSDB map: %s", raw)
	}
	var kvs [][2]string
	if err := json.Unmarshal(pair[1], &kvs); err != nil {
		return nil, fmt.Errorf("not a string map: %w", err)
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv[0]] = kv[1]
	}
	return m, nil
}

// quote renders a value as an OVSDB string literal.
func quote(v string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
