//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

// vifParams are the fields of a VIF the node daemon acts on.
type vifParams struct {
	id, mac, network, vifName, bridge string
	hybrid                            bool
}

func goodVIFParams() vifParams {
	id := string(uuid.NewUUID()) // no such Neutron port: nothing can be done to a real one
	return vifParams{id: id, mac: "fa:16:3e:00:12:34", network: string(uuid.NewUUID()), vifName: apiv1.VIFNameForPort(id), bridge: "br-int"}
}

// ours is the VIF in this project's form.
func (p vifParams) ours() apiv1.VIF {
	mode := apiv1.PlugModeNative
	if p.hybrid {
		mode = apiv1.PlugModeHybrid
	}
	return apiv1.VIF{ID: p.id, Address: p.mac, NetworkID: p.network, MTU: 1450, Bridge: p.bridge,
		VIFType: apiv1.VIFTypeOVS, PlugMode: mode, VIFName: p.vifName}
}

// osVIF is the VIF as kuryr-kubernetes wrote it: an os-vif VIFOpenVSwitch, or a VIFBridge
// (hybrid plug) whose bridge_name is the per-port Linux bridge.
func (p vifParams) osVIF() map[string]any {
	primitive := func(name string, data map[string]any) map[string]any {
		return map[string]any{"versioned_object.name": name, "versioned_object.namespace": "os_vif",
			"versioned_object.version": "1.0", "versioned_object.data": data}
	}
	kind, bridgeName := "VIFOpenVSwitch", p.bridge
	if p.hybrid {
		kind = "VIFBridge"
		bridgeName, _, _ = apiv1.HybridNames(p.id)
	}
	return primitive(kind, map[string]any{
		"id": p.id, "address": p.mac, "vif_name": p.vifName, "bridge_name": bridgeName, "active": true,
		"has_traffic_filtering": true, "plugin": "ovs", "preserve_on_delete": false,
		"network": primitive("Network", map[string]any{"id": p.network, "bridge": p.bridge, "mtu": 1450}),
	})
}

type vifCase struct {
	name string
	// vif is an apiv1.VIF or an os-vif primitive.
	vif   any
	valid bool
}

// check reports a valid VIF the API server refused, or an invalid one it did not refuse as
// Invalid.
func (c vifCase) check(t *testing.T, where string, err error) {
	t.Helper()
	switch {
	case c.valid && err != nil:
		t.Errorf("%s, %s: rejected: %v", where, c.name, err)
	case !c.valid && !apierrors.IsInvalid(err):
		t.Errorf("%s, %s: want Invalid, got %v", where, c.name, err)
	}
}

// vifCases are VIFs the controller or kuryr-kubernetes writes, and VIFs that would make the
// node daemon delete or plug host devices that are not the port's.
func vifCases() []vifCase {
	good := goodVIFParams()
	hybrid := good
	hybrid.hybrid = true
	with := func(f func(*vifParams)) vifParams { p := good; f(&p); return p }
	bad := map[string]vifParams{
		"port ID not a UUID":    with(func(p *vifParams) { p.id, p.vifName = "p1", "tapp1" }),
		"host link eth0":        with(func(p *vifParams) { p.vifName = "eth0" }),
		"another port's tap":    with(func(p *vifParams) { p.vifName = "tap99999999-99" }),
		"ovs-vsctl separator":   with(func(p *vifParams) { p.bridge = "--" }),
		"bridge with a space":   with(func(p *vifParams) { p.bridge = "br ex" }),
		"MAC address not a MAC": with(func(p *vifParams) { p.mac = "fa:16:3e:00:12" }),
	}
	cases := []vifCase{
		{"native", good.ours(), true}, {"hybrid", hybrid.ours(), true},
		{"os-vif VIFOpenVSwitch", good.osVIF(), true}, {"os-vif VIFBridge", hybrid.osVIF(), true},
	}
	for name, p := range bad {
		cases = append(cases, vifCase{name, p.ours(), false}, vifCase{"os-vif, " + name, p.osVIF(), false})
	}
	return cases
}

// heldKuryrPort creates a KuryrPort of no pod that a finalizer of the test keeps until the
// end, whatever a running controller does with it.
func heldKuryrPort(t *testing.T, kube client.Client, ns string) *apiv1.KuryrPort {
	t.Helper()
	const hold = "kuryr.openstack.org/integration-test"
	kp := &apiv1.KuryrPort{
		ObjectMeta: metav1.ObjectMeta{Name: "crd-validation", Namespace: ns, Finalizers: []string{hold}},
		Spec:       apiv1.KuryrPortSpec{PodUID: string(uuid.NewUUID()), PodNodeName: "no-such-node"},
	}
	if err := kube.Create(context.Background(), kp); err != nil {
		t.Fatalf("creating KuryrPort: %v", err)
	}
	t.Cleanup(func() {
		patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
		if err := kube.Patch(context.Background(), kp, patch); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("releasing KuryrPort: %v", err)
		}
	})
	return kp
}

// The API server refuses, in a KuryrPort status and in a KuryrPortPool spec, the VIFs whose
// port ID, host device, bridge or MAC the node daemon must not act on; it accepts those the
// controller and kuryr-kubernetes write. The VIFs are written in dry runs.
func TestCRDValidatesVIFs(t *testing.T) {
	tb := LoadTestbed(t)
	kube := tb.Kube(t)
	ns := tb.Namespace(t, kube)
	kp := heldKuryrPort(t, kube, ns)
	ctx := context.Background()
	for _, c := range vifCases() {
		body, err := json.Marshal(map[string]any{"status": map[string]any{"vifs": map[string]any{
			"eth0": map[string]any{"default": true, "vif": c.vif}}}})
		if err != nil {
			t.Fatal(err)
		}
		err = kube.Status().Patch(ctx, kp.DeepCopy(), client.RawPatch(types.MergePatchType, body), client.DryRunAll)
		c.check(t, "KuryrPort status", err)
	}
	for _, c := range vifCases() {
		port, ours := c.vif.(apiv1.VIF)
		if !ours {
			continue // a pool holds this project's form only
		}
		kpp := &apiv1.KuryrPortPool{ObjectMeta: metav1.ObjectMeta{Name: ns}, Spec: apiv1.KuryrPortPoolSpec{NodeName: ns, Ports: []apiv1.VIF{port}}}
		c.check(t, "KuryrPortPool port", kube.Create(ctx, kpp, client.DryRunAll))
	}
}
