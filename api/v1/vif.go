package v1

import (
	"encoding/json"
	"fmt"

	kjson "sigs.k8s.io/json"
)

// VIF types and plug modes.
const (
	VIFTypeOVS = "ovs"

	// PlugModeNative plugs the pod's veth straight into the OVS bridge (openvswitch firewall).
	PlugModeNative = "native"
	// PlugModeHybrid plugs it into a per-port Linux bridge (qbr) joined to OVS by a veth
	// pair (qvb/qvo), as os-vif does when Neutron reports ovs_hybrid_plug (iptables_hybrid).
	PlugModeHybrid = "hybrid"
)

// VIF is the one description of a pod interface shared by the controller (which builds it
// from the Neutron port), the node daemon (which plugs it) and the CNI plugin (which reports it).
//
// The node daemon deletes and creates host devices and OVS ports by the names a VIF carries,
// so the API server only accepts the names the controller derives: a Neutron port UUID, the
// "tap" device of that port, an OVS bridge name and a MAC address.
//
// +kubebuilder:validation:XValidation:rule="!has(self.vifName) || !has(self.id) || ('tap' + self.id).startsWith(self.vifName)",message="vifName must be \"tap\" followed by the first 11 characters of id"
type VIF struct {
	// ID is the Neutron port ID.
	// +kubebuilder:validation:MaxLength=36
	// +kubebuilder:validation:Pattern=`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	ID string `json:"id"`
	// Address is the port's MAC address.
	// +kubebuilder:validation:Pattern=`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`
	Address string `json:"address"`
	// NetworkID is the Neutron network the port is on.
	// +kubebuilder:validation:Pattern=`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	NetworkID string `json:"networkId"`
	// MTU of the network (or network_device_mtu from the configuration).
	// +optional
	MTU int `json:"mtu,omitempty"`
	// Subnets with their fixed IPs on this port.
	// +optional
	Subnets []Subnet `json:"subnets,omitempty"`
	// Bridge is the OVS bridge to plug into (binding:vif_details bridge_name, or ovs_bridge):
	// a network device name that cannot be taken for an ovs-vsctl option.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$`
	Bridge string `json:"bridge"`
	// VIFType is Neutron's binding:vif_type ("ovs").
	VIFType string `json:"vifType"`
	// PlugMode is "native" or "hybrid".
	// +kubebuilder:validation:Enum=native;hybrid
	PlugMode string `json:"plugMode"`
	// VIFName is the host-side device name ("tap" + the first 11 characters of the port ID).
	// +kubebuilder:validation:MaxLength=14
	// +kubebuilder:validation:Pattern=`^tap[0-9a-fA-F]{8}-[0-9a-fA-F]{2}$`
	VIFName string `json:"vifName"`
	// PortFilter is binding:vif_details port_filter (Neutron filters traffic itself).
	// +optional
	PortFilter bool `json:"portFilter,omitempty"`
	// ProjectID owns the port.
	// +optional
	ProjectID string `json:"projectId,omitempty"`
	// SecurityGroups applied to the port.
	// +optional
	SecurityGroups []string `json:"securityGroups,omitempty"`
	// Active is true once Neutron reports the port ACTIVE (the agent has wired it).
	Active bool `json:"active"`
}

// Subnet is one subnet of a VIF with the port's addresses in it.
type Subnet struct {
	ID   string `json:"id,omitempty"`
	CIDR string `json:"cidr"`
	// +optional
	Gateway string `json:"gateway,omitempty"`
	// +optional
	DNS []string `json:"dns,omitempty"`
	// +optional
	Routes []Route `json:"routes,omitempty"`
	// IPs are the port's fixed IPs in this subnet.
	IPs []string `json:"ips"`
}

// Route is a subnet host route.
type Route struct {
	CIDR    string `json:"cidr"`
	Gateway string `json:"gateway"`
}

// VIFNameForPort is the host-side device name of a port: "tap" + 11 characters of its ID,
// the name Nova, os-vif and Neutron's iptables firewall derive from the port ID.
func VIFNameForPort(portID string) string { return devName("tap", portID) }

// HybridNames returns the qbr bridge and qvb/qvo veth names os-vif uses for a port.
func HybridNames(portID string) (qbr, qvb, qvo string) {
	return devName("qbr", portID), devName("qvb", portID), devName("qvo", portID)
}

func devName(prefix, portID string) string {
	if len(portID) > 11 {
		portID = portID[:11]
	}
	return prefix + portID
}

// DefaultIP returns the first fixed IP of the VIF with its subnet, or false if it has none.
func (v *VIF) DefaultIP() (string, *Subnet, bool) {
	for i := range v.Subnets {
		if len(v.Subnets[i].IPs) > 0 {
			return v.Subnets[i].IPs[0], &v.Subnets[i], true
		}
	}
	return "", nil, false
}

// UnmarshalJSON reads our format and, for objects written by kuryr-kubernetes, its os-vif
// versioned-object primitives. The KuryrPort CRD validates the os-vif fields read here too:
// hack/crdschema maps them to the VIF fields and must follow this decoder.
func (v *VIF) UnmarshalJSON(b []byte) error {
	var probe map[string]json.RawMessage
	if err := unmarshal(b, &probe); err != nil {
		return err
	}
	if _, ok := probe["versioned_object.name"]; ok {
		return v.fromOSVIF(b)
	}
	type plain VIF
	var p plain
	if err := unmarshal(b, &p); err != nil {
		return err
	}
	*v = VIF(p)
	return nil
}

// unmarshal decodes as the API machinery does: field names are case-sensitive, so a key the
// CRD schema does not validate ("VIFName", "VIF_NAME") cannot fill a field it does.
func unmarshal(b []byte, v any) error {
	return kjson.UnmarshalCaseSensitivePreserveInts(b, v)
}

type ovo struct {
	Name string          `json:"versioned_object.name"`
	Data json.RawMessage `json:"versioned_object.data"`
}

type ovoList struct {
	Objects []ovo `json:"objects"`
}

func (o ovo) list() ([]ovo, error) {
	if len(o.Data) == 0 {
		return nil, nil
	}
	var l ovoList
	if err := unmarshal(o.Data, &l); err != nil {
		return nil, err
	}
	return l.Objects, nil
}

func (v *VIF) fromOSVIF(b []byte) error {
	var top ovo
	if err := unmarshal(b, &top); err != nil {
		return fmt.Errorf("decoding os-vif VIF: %w", err)
	}
	var d struct {
		ID          string `json:"id"`
		Address     string `json:"address"`
		Active      bool   `json:"active"`
		BridgeName  string `json:"bridge_name"`
		VIFName     string `json:"vif_name"`
		PortFilter  bool   `json:"has_traffic_filtering"`
		Network     ovo    `json:"network"`
		PortProfile ovo    `json:"port_profile"`
	}
	if err := unmarshal(top.Data, &d); err != nil {
		return fmt.Errorf("decoding os-vif %s: %w", top.Name, err)
	}
	var n struct {
		ID      string `json:"id"`
		Bridge  string `json:"bridge"`
		MTU     int    `json:"mtu"`
		Subnets ovo    `json:"subnets"`
	}
	if len(d.Network.Data) > 0 {
		if err := unmarshal(d.Network.Data, &n); err != nil {
			return fmt.Errorf("decoding os-vif network: %w", err)
		}
	}
	*v = VIF{
		ID: d.ID, Address: d.Address, Active: d.Active, NetworkID: n.ID, MTU: n.MTU,
		Bridge: n.Bridge, VIFType: VIFTypeOVS, PlugMode: PlugModeNative, VIFName: d.VIFName,
		PortFilter: d.PortFilter,
	}
	if top.Name == "VIFBridge" {
		v.PlugMode = PlugModeHybrid
	} else if d.BridgeName != "" {
		v.Bridge = d.BridgeName
	}
	subnets, err := n.Subnets.list()
	if err != nil {
		return fmt.Errorf("decoding os-vif subnets: %w", err)
	}
	for _, so := range subnets {
		var s struct {
			CIDR    string   `json:"cidr"`
			Gateway string   `json:"gateway"`
			DNS     []string `json:"dns"`
			IPs     ovo      `json:"ips"`
			Routes  ovo      `json:"routes"`
		}
		if err := unmarshal(so.Data, &s); err != nil {
			return fmt.Errorf("decoding os-vif subnet: %w", err)
		}
		sub := Subnet{CIDR: s.CIDR, Gateway: s.Gateway, DNS: s.DNS}
		ips, err := s.IPs.list()
		if err != nil {
			return fmt.Errorf("decoding os-vif fixed IPs: %w", err)
		}
		for _, io := range ips {
			var ip struct {
				Address string `json:"address"`
			}
			if err := unmarshal(io.Data, &ip); err != nil {
				return fmt.Errorf("decoding os-vif fixed IP: %w", err)
			}
			sub.IPs = append(sub.IPs, ip.Address)
		}
		routes, err := s.Routes.list()
		if err != nil {
			return fmt.Errorf("decoding os-vif routes: %w", err)
		}
		for _, ro := range routes {
			var r Route
			if err := unmarshal(ro.Data, &r); err != nil {
				return fmt.Errorf("decoding os-vif route: %w", err)
			}
			sub.Routes = append(sub.Routes, r)
		}
		v.Subnets = append(v.Subnets, sub)
	}
	return nil
}
