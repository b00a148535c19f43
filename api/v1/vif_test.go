package v1

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A KuryrPort status entry as kuryr-kubernetes wrote it: an os-vif versioned-object primitive.
const osVIFPrimitive = `{"default": true, "vif": {
 "versioned_object.name": "VIFOpenVSwitch", "versioned_object.namespace": "os_vif", "versioned_object.version": "1.0",
 "versioned_object.data": {
  "active": true, "address": "fa:16:3e:5c:46:1a", "bridge_name": "br-int", "has_traffic_filtering": true,
  "id": "68371534-2456-4f4d-861d-8936ec6595cb", "plugin": "ovs", "preserve_on_delete": false, "vif_name": "tap68371534-24",
  "network": {"versioned_object.name": "Network", "versioned_object.namespace": "os_vif", "versioned_object.version": "1.1",
   "versioned_object.data": {"id": "38178d9f-ecd5-4a93-90ea-fb4110d52bf1", "bridge": "br-int", "label": "k8s-pod-net", "mtu": 1450,
    "subnets": {"versioned_object.name": "SubnetList", "versioned_object.data": {"objects": [
     {"versioned_object.name": "Subnet", "versioned_object.data": {"cidr": "10.0.0.64/26", "gateway": "10.0.0.126", "dns": ["10.0.0.2"],
      "ips": {"versioned_object.name": "FixedIPList", "versioned_object.data": {"objects": [
       {"versioned_object.name": "FixedIP", "versioned_object.data": {"address": "10.0.0.68"}}]}},
      "routes": {"versioned_object.name": "RouteList", "versioned_object.data": {"objects": [
       {"versioned_object.name": "Route", "versioned_object.data": {"cidr": "192.168.0.0/24", "gateway": "10.0.0.100"}}]}}}}]}}}},
  "port_profile": {"versioned_object.name": "VIFPortProfileOpenVSwitch", "versioned_object.data": {"interface_id": "68371534-2456-4f4d-861d-8936ec6595cb"}}}}}`

func TestVIFStatusReadsKuryrOSVIF(t *testing.T) {
	var st VIFStatus
	if err := json.Unmarshal([]byte(osVIFPrimitive), &st); err != nil {
		t.Fatal(err)
	}
	want := VIF{
		ID: "68371534-2456-4f4d-861d-8936ec6595cb", Address: "fa:16:3e:5c:46:1a", NetworkID: "38178d9f-ecd5-4a93-90ea-fb4110d52bf1",
		MTU: 1450, Bridge: "br-int", VIFType: VIFTypeOVS, PlugMode: PlugModeNative, VIFName: "tap68371534-24", PortFilter: true,
		Active: true,
		Subnets: []Subnet{{CIDR: "10.0.0.64/26", Gateway: "10.0.0.126", DNS: []string{"10.0.0.2"}, IPs: []string{"10.0.0.68"},
			Routes: []Route{{CIDR: "192.168.0.0/24", Gateway: "10.0.0.100"}}}},
	}
	if !st.Default || !reflect.DeepEqual(st.VIF, want) {
		t.Fatalf("got %+v default=%v\nwant %+v", st.VIF, st.Default, want)
	}
	ip, sn, ok := st.VIF.DefaultIP()
	if !ok || ip != "10.0.0.68" || sn.Gateway != "10.0.0.126" {
		t.Fatalf("DefaultIP = %s %+v %v", ip, sn, ok)
	}
}

func TestVIFHybridFromOSVIFBridge(t *testing.T) {
	b := []byte(`{"versioned_object.name": "VIFBridge", "versioned_object.data": {"id": "p1", "address": "fa:16:3e:00:00:01", "bridge_name": "qbrp1",
	  "network": {"versioned_object.data": {"id": "n1", "bridge": "br-int", "mtu": 1500}}}}`)
	var v VIF
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.PlugMode != PlugModeHybrid || v.Bridge != "br-int" || v.MTU != 1500 {
		t.Fatalf("got %+v, want hybrid plug into br-int", v)
	}
}

func TestVIFRoundTrip(t *testing.T) {
	in := VIF{ID: "p", Address: "fa:16:3e:00:00:02", NetworkID: "n", Bridge: "br-int", VIFType: VIFTypeOVS, PlugMode: PlugModeNative,
		VIFName: VIFNameForPort("0123456789abcdef"), Subnets: []Subnet{{CIDR: "10.0.0.64/26", IPs: []string{"10.0.0.70"}}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out VIF
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) || out.VIFName != "tap0123456789a" {
		t.Fatalf("round trip: %+v -> %+v", in, out)
	}
	qbr, qvb, qvo := HybridNames("0123456789abcdef")
	if qbr != "qbr0123456789a" || qvb != "qvb0123456789a" || qvo != "qvo0123456789a" {
		t.Fatalf("HybridNames = %s %s %s", qbr, qvb, qvo)
	}
}

// Field names are case-sensitive, as for the rest of the API: the CRD schema validates
// "vifName" and "bridge_name", and a key that differs only in case, which the API server
// keeps as an unknown field, must not reach the daemon.
func TestVIFIgnoresKeysThatDifferInCase(t *testing.T) {
	var v VIF
	if err := json.Unmarshal([]byte(`{"id": "68371534-2456-4f4d-861d-8936ec6595cb", "VIFName": "eth0", "BRIDGE": "br-ex"}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.VIFName != "" || v.Bridge != "" {
		t.Fatalf("got vifName %q bridge %q from keys the schema does not validate", v.VIFName, v.Bridge)
	}
	b := []byte(`{"versioned_object.name": "VIFOpenVSwitch", "versioned_object.data": {"id": "68371534-2456-4f4d-861d-8936ec6595cb",
	  "VIF_NAME": "eth0", "Bridge_Name": "br-ex", "network": {"versioned_object.data": {"BRIDGE": "br-ex"}}}}`)
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.VIFName != "" || v.Bridge != "" || v.ID == "" {
		t.Fatalf("os-vif: got %+v from keys the schema does not validate", v)
	}
}
