package kuryrctl

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

func newPortCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "port", Short: "Neutron ports"}
	cmd.AddCommand(&cobra.Command{
		Use:   "show NAME|ID",
		Short: "Show a port the way `openstack port show` does (a pod's port is named after the pod)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.context(cmd)
			defer cancel()
			_, oc, err := g.load(ctx)
			if err != nil {
				return err
			}
			p, err := findPort(ctx, oc, args[0])
			if err != nil {
				return err
			}
			printPort(cmd.OutOrStdout(), p)
			return nil
		},
	})
	return cmd
}

func newRouterCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "router", Short: "Neutron routers"}
	cmd.AddCommand(&cobra.Command{
		Use:   "ports ROUTER_ID",
		Short: "List a router's interfaces (like `neutron router-port-list`)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.context(cmd)
			defer cancel()
			_, oc, err := g.load(ctx)
			if err != nil {
				return err
			}
			ports, err := oc.ListPorts(ctx, neutron.PortFilter{DeviceID: args[0]})
			if err != nil {
				return fmt.Errorf("listing the ports of router %s: %w", args[0], err)
			}
			sort.Slice(ports, func(i, j int) bool { return ports[i].ID < ports[j].ID })
			rows := [][]string{{"id", "name", "project_id", "mac_address", "fixed_ips", "device_owner"}}
			for _, p := range ports {
				rows = append(rows, []string{p.ID, p.Name, p.ProjectID, p.MACAddress, fixedIPs(p.FixedIPs), p.DeviceOwner})
			}
			printTable(cmd.OutOrStdout(), rows)
			return nil
		},
	})
	return cmd
}

// findPort looks a port up by ID, then by name.
func findPort(ctx context.Context, oc neutron.Client, key string) (*neutron.Port, error) {
	if p, err := oc.GetPort(ctx, key); err == nil {
		return p, nil
	} else if !openstack.IsNotFound(err) {
		return nil, fmt.Errorf("getting port %s: %w", key, err)
	}
	ports, err := oc.ListPorts(ctx, neutron.PortFilter{Name: key})
	if err != nil {
		return nil, fmt.Errorf("listing ports named %s: %w", key, err)
	}
	switch len(ports) {
	case 0:
		return nil, fmt.Errorf("no port with ID or name %q", key)
	case 1:
		return &ports[0], nil
	default:
		return nil, fmt.Errorf("%d ports are named %q: give the ID", len(ports), key)
	}
}

func fixedIPs(ips []neutron.FixedIP) string {
	parts := make([]string, 0, len(ips))
	for _, ip := range ips {
		parts = append(parts, fmt.Sprintf("ip_address='%s', subnet_id='%s'", ip.IPAddress, ip.SubnetID))
	}
	return strings.Join(parts, "; ")
}

func vifDetails(d map[string]any) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s='%v'", k, d[k]))
	}
	return strings.Join(parts, ", ")
}

func printPort(w io.Writer, p *neutron.Port) {
	up := "DOWN"
	if p.AdminStateUp {
		up = "UP"
	}
	sgs := append([]string(nil), p.SecurityGroups...)
	sort.Strings(sgs)
	tags := append([]string(nil), p.Tags...)
	sort.Strings(tags)
	rows := [][]string{
		{"Field", "Value"},
		{"admin_state_up", up},
		{"binding_host_id", p.HostID},
		{"binding_vif_details", vifDetails(p.VIFDetails)},
		{"binding_vif_type", p.VIFType},
		{"binding_vnic_type", p.VNICType},
		{"created_at", p.CreatedAt.UTC().Format("2006-01-02T15:04:05Z")},
		{"device_id", p.DeviceID},
		{"device_owner", p.DeviceOwner},
		{"fixed_ips", fixedIPs(p.FixedIPs)},
		{"id", p.ID},
		{"mac_address", p.MACAddress},
		{"name", p.Name},
		{"network_id", p.NetworkID},
		{"project_id", p.ProjectID},
		{"revision_number", fmt.Sprint(p.RevisionNumber)},
		{"security_group_ids", strings.Join(sgs, ", ")},
		{"status", p.Status},
		{"tags", strings.Join(tags, ", ")},
		{"updated_at", p.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z")},
	}
	printTable(w, rows)
}

// printTable prints rows as an ASCII table with a header row, like the OpenStack client.
func printTable(w io.Writer, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	sep := "+"
	for _, n := range width {
		sep += strings.Repeat("-", n+2) + "+"
	}
	line := func(r []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range r {
			fmt.Fprintf(&b, " %-*s |", width[i], c)
		}
		fmt.Fprintln(w, b.String())
	}
	fmt.Fprintln(w, sep)
	line(rows[0])
	fmt.Fprintln(w, sep)
	for _, r := range rows[1:] {
		line(r)
	}
	fmt.Fprintln(w, sep)
}
