package v1

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/install"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// crdSchema validates custom resources against one generated CRD in deploy/crds as the API
// server does: pruning, the OpenAPI schema, then the CEL rules.
type crdSchema struct {
	openAPI    validation.SchemaValidator
	structural *structuralschema.Structural
	cel        *cel.Validator
}

func loadCRD(t *testing.T, file string) *crdSchema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "crds", file))
	if err != nil {
		t.Fatal(err)
	}
	var external apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(b, &external); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	scheme := runtime.NewScheme()
	install.Install(scheme)
	scheme.Default(&external)
	var crd apiextensions.CustomResourceDefinition
	if err := scheme.Convert(&external, &crd, nil); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	// What the API server checks when the CRD is created: a structural schema, CEL rules that
	// compile and fit the cost limits.
	if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), &crd); len(errs) > 0 {
		t.Fatalf("%s would be rejected: %v", file, errs.ToAggregate())
	}
	if crd.Spec.Validation == nil { // set when every version has the same schema
		t.Fatalf("%s: want one schema for all versions", file)
	}
	s := crd.Spec.Validation.OpenAPIV3Schema
	openAPI, _, err := validation.NewSchemaValidator(s)
	if err != nil {
		t.Fatal(err)
	}
	structural, err := structuralschema.NewStructural(s)
	if err != nil {
		t.Fatal(err)
	}
	return &crdSchema{openAPI: openAPI, structural: structural, cel: cel.NewValidator(structural, true, celconfig.PerCallLimit)}
}

func (c *crdSchema) validate(obj map[string]any) field.ErrorList {
	pruning.Prune(obj, c.structural, true)
	errs := validation.ValidateCustomResource(nil, obj, c.openAPI)
	celErrs, _ := c.cel.Validate(context.Background(), nil, c.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

const (
	testPortID    = "68371534-2456-4f4d-861d-8936ec6595cb"
	testNetworkID = "38178d9f-ecd5-4a93-90ea-fb4110d52bf1"
	otherTap      = "tap99999999-99"
)

// testVIF is a VIF as the controller writes it for a Neutron port.
func testVIF(mode string) VIF {
	return VIF{
		ID: testPortID, Address: "fa:16:3e:5c:46:1a", NetworkID: testNetworkID, MTU: 1450, Bridge: "br-int",
		VIFType: VIFTypeOVS, PlugMode: mode, VIFName: VIFNameForPort(testPortID), Active: true,
		Subnets: []Subnet{{ID: "b7f1b5b4-2f0e-4c38-9b36-a0dc4c1a0b1e", CIDR: "10.0.0.64/26", IPs: []string{"10.0.0.68"}}},
	}
}

// osVIFBridge is a hybrid-plugged VIF as kuryr-kubernetes wrote it (os-vif VIFBridge).
const osVIFBridge = `{"default": true, "vif": {
 "versioned_object.name": "VIFBridge", "versioned_object.namespace": "os_vif", "versioned_object.version": "1.0",
 "versioned_object.data": {"id": "68371534-2456-4f4d-861d-8936ec6595cb", "address": "fa:16:3e:5c:46:1a", "active": false,
  "bridge_name": "qbr68371534-24", "vif_name": "tap68371534-24", "has_traffic_filtering": true, "plugin": "ovs",
  "preserve_on_delete": false,
  "network": {"versioned_object.name": "Network", "versioned_object.namespace": "os_vif", "versioned_object.version": "1.1",
   "versioned_object.data": {"id": "38178d9f-ecd5-4a93-90ea-fb4110d52bf1", "bridge": "br-int", "mtu": 1450}},
  "port_profile": {"versioned_object.name": "VIFPortProfileOpenVSwitch", "versioned_object.data": {"interface_id": "68371534-2456-4f4d-861d-8936ec6595cb"}}}}}`

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := utiljson.Unmarshal([]byte(s), &m); err != nil { // integers as int64, as the API server has them
		t.Fatal(err)
	}
	return m
}

func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, string(b))
}

// set sets the value at a dotted path ("vif.versioned_object.data" is one key after "vif":
// a path element may contain dots when it names an existing key), or deletes it for nil.
func set(t *testing.T, obj map[string]any, path []string, value any) {
	t.Helper()
	for _, k := range path[:len(path)-1] {
		next, ok := obj[k].(map[string]any)
		if !ok {
			t.Fatalf("no object at %q of %v", k, path)
		}
		obj = next
	}
	last := path[len(path)-1]
	if value == nil {
		delete(obj, last)
		return
	}
	obj[last] = value
}

func kuryrPort(t *testing.T, entry map[string]any) map[string]any {
	t.Helper()
	kp := toMap(t, &KuryrPort{Spec: KuryrPortSpec{PodUID: "0b6a6b4e-0b0e-4b8e-9b2e-0d7c3c4f9a11", PodNodeName: "node-1"}})
	kp["apiVersion"], kp["kind"] = GroupVersion.String(), "KuryrPort"
	kp["metadata"] = map[string]any{"name": "pod-1", "namespace": "default"}
	kp["status"] = map[string]any{"vifs": map[string]any{"eth0": entry}}
	return kp
}

type mutation struct {
	name  string
	path  []string // from the VIF
	value any      // nil deletes the field
	// want is in the rejection; the last element of path when empty.
	want string
}

func (m mutation) wanted() string {
	if m.want != "" {
		return m.want
	}
	return m.path[len(m.path)-1]
}

var (
	dataPath    = []string{"versioned_object.data"}
	networkPath = []string{"versioned_object.data", "network", "versioned_object.data"}
)

func at(base []string, key string) []string { return append(append([]string{}, base...), key) }

// Names, IDs and addresses the node daemon would act on that the API server must refuse.
var badOurs = []mutation{
	{"port ID not a UUID", []string{"id"}, "p1", ""},
	{"port ID with a path", []string{"id"}, "../../../../etc/passwd", ""},
	{"empty port ID", []string{"id"}, "", ""},
	{"host link eth0", []string{"vifName"}, "eth0", ""},
	{"host bridge as device", []string{"vifName"}, "br-ex", ""},
	{"another port's tap", []string{"vifName"}, otherTap, ""},
	{"tap name too long", []string{"vifName"}, "tap68371534-245", ""},
	{"ovs-vsctl separator as device", []string{"vifName"}, "--", ""},
	{"ovs-vsctl separator as bridge", []string{"bridge"}, "--", ""},
	{"option as bridge", []string{"bridge"}, "-h", ""},
	{"empty bridge", []string{"bridge"}, "", ""},
	{"bridge name too long", []string{"bridge"}, "br-0123456789abc", ""},
	{"bridge name with a space", []string{"bridge"}, "br int", ""},
	{"bridge name with a slash", []string{"bridge"}, "br/int", ""},
	{"MAC too short", []string{"address"}, "fa:16:3e:5c:46", ""},
	{"MAC not hex", []string{"address"}, "fa:16:3e:5c:46:zz", ""},
	{"network ID not a UUID", []string{"networkId"}, "net", ""},
	{"unknown plug mode", []string{"plugMode"}, "macvtap", ""},
	{"no port ID", []string{"id"}, nil, "id: Required"},
	{"os-vif name without os-vif data", []string{"versioned_object.name"}, "VIFOpenVSwitch", "oneOf"},
}

var badOSVIF = []mutation{
	{"port ID not a UUID", at(dataPath, "id"), "p1", ""},
	{"host link eth0", at(dataPath, "vif_name"), "eth0", ""},
	{"another port's tap", at(dataPath, "vif_name"), otherTap, ""},
	{"ovs-vsctl separator as bridge", at(dataPath, "bridge_name"), "--", ""},
	{"MAC not hex", at(dataPath, "address"), "zz:16:3e:5c:46:1a", ""},
	{"network bridge with a space", at(networkPath, "bridge"), "br ex", ""},
	{"network ID not a UUID", at(networkPath, "id"), "net", ""},
	{"no os-vif data", dataPath, nil, "oneOf"},
}

func ourEntry(t *testing.T, mode string) map[string]any {
	return toMap(t, VIFStatus{Default: true, VIF: testVIF(mode)})
}

func TestKuryrPortCRDAcceptsVIFsTheProjectAndKuryrWrite(t *testing.T) {
	crd := loadCRD(t, "openstack.org_kuryrports.yaml")
	for name, entry := range map[string]map[string]any{
		"native":                   ourEntry(t, PlugModeNative),
		"hybrid":                   ourEntry(t, PlugModeHybrid),
		"os-vif VIFOpenVSwitch":    decode(t, osVIFPrimitive),
		"os-vif VIFBridge":         decode(t, osVIFBridge),
		"uppercase port ID":        toMap(t, VIFStatus{VIF: VIF{ID: strings.ToUpper(testPortID), Address: "FA:16:3E:5C:46:1A", NetworkID: testNetworkID, Bridge: "br_int.1", VIFType: "ovs", PlugMode: PlugModeNative, VIFName: VIFNameForPort(strings.ToUpper(testPortID))}}),
		"no vifName in os-vif VIF": withMutation(t, decode(t, osVIFPrimitive), at(dataPath, "vif_name"), nil),
	} {
		if errs := crd.validate(kuryrPort(t, entry)); len(errs) > 0 {
			t.Errorf("%s: rejected: %v", name, errs.ToAggregate())
		}
	}
}

func withMutation(t *testing.T, entry map[string]any, path []string, value any) map[string]any {
	t.Helper()
	set(t, entry, append([]string{"vif"}, path...), value)
	return entry
}

func TestKuryrPortCRDRejectsBadVIFs(t *testing.T) {
	crd := loadCRD(t, "openstack.org_kuryrports.yaml")
	check := func(form string, base func() map[string]any, muts []mutation) {
		for _, m := range muts {
			obj := kuryrPort(t, withMutation(t, base(), m.path, m.value))
			errs := crd.validate(obj)
			if len(errs) == 0 {
				t.Errorf("%s, %s (%v = %v): accepted", form, m.name, m.path, m.value)
			} else if !strings.Contains(errs.ToAggregate().Error(), m.wanted()) {
				t.Errorf("%s, %s: rejected without naming %q: %v", form, m.name, m.wanted(), errs.ToAggregate())
			}
		}
	}
	check("native", func() map[string]any { return ourEntry(t, PlugModeNative) }, badOurs)
	check("hybrid", func() map[string]any { return ourEntry(t, PlugModeHybrid) }, badOurs)
	check("os-vif VIFOpenVSwitch", func() map[string]any { return decode(t, osVIFPrimitive) }, badOSVIF)
	check("os-vif VIFBridge", func() map[string]any { return decode(t, osVIFBridge) }, badOSVIF)
}

func TestKuryrPortPoolCRDValidatesPorts(t *testing.T) {
	crd := loadCRD(t, "openstack.org_kuryrportpools.yaml")
	pool := func(port map[string]any) map[string]any {
		p := toMap(t, &KuryrPortPool{Spec: KuryrPortPoolSpec{NodeName: "node-1"}})
		p["apiVersion"], p["kind"] = GroupVersion.String(), "KuryrPortPool"
		p["metadata"] = map[string]any{"name": "node-1"}
		p["spec"].(map[string]any)["ports"] = []any{port}
		return p
	}
	for _, mode := range []string{PlugModeNative, PlugModeHybrid} {
		if errs := crd.validate(pool(toMap(t, testVIF(mode)))); len(errs) > 0 {
			t.Errorf("%s pool port rejected: %v", mode, errs.ToAggregate())
		}
	}
	for _, m := range badOurs {
		if m.path[0] == "versioned_object.name" {
			continue // a pool port has no os-vif form: the key is pruned
		}
		port := toMap(t, testVIF(PlugModeNative))
		set(t, port, m.path, m.value)
		if errs := crd.validate(pool(port)); len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), m.wanted()) {
			t.Errorf("pool port, %s: want a rejection naming %q, got %v", m.name, m.wanted(), errs.ToAggregate())
		}
	}
	// The pool only holds the project's form: an os-vif primitive lacks its required fields.
	if errs := crd.validate(pool(decode(t, osVIFPrimitive)["vif"].(map[string]any))); len(errs) == 0 {
		t.Error("os-vif pool port accepted")
	}
}
