package plug

import (
	"testing"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

func TestValidateRejectsForeignBridgeAndHostDevice(t *testing.T) {
	id := "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
	p := &Plugger{Bridge: "br-int"}
	newVIF := func() *apiv1.VIF {
		return &apiv1.VIF{ID: id, Address: "fa:16:3e:aa:bb:cc", Bridge: "br-int", PlugMode: "native", VIFName: apiv1.VIFNameForPort(id)}
	}
	if err := p.validate(&Request{VIF: newVIF(), Netns: "/var/run/netns/x", IfName: "eth0", ContainerID: "c"}); err != nil {
		t.Fatalf("valid request refused: %v", err)
	}
	for name, mutate := range map[string]func(v *apiv1.VIF){
		"bridge br-ex":                 func(v *apiv1.VIF) { v.Bridge = "br-ex" },
		"vifName of a host NIC":        func(v *apiv1.VIF) { v.VIFName = "eth0" },
		"vifName of another pod's tap": func(v *apiv1.VIF) { v.VIFName = "tap99999999-99" },
		"vifName '--'":                 func(v *apiv1.VIF) { v.VIFName = "--" },
		"vifName > IFNAMSIZ":           func(v *apiv1.VIF) { v.VIFName = "tap0123456789abcdef" },
		"port ID not a UUID":           func(v *apiv1.VIF) { v.ID, v.VIFName = "../../x", "" },
	} {
		v := newVIF()
		mutate(v)
		if p.validate(&Request{VIF: v, Netns: "/var/run/netns/x", IfName: "eth0", ContainerID: "c"}) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, ifn := range []string{"eth0eth0eth0eth0x", "../../etc", "a b", ".", "..", "a\tb", ""} { // CNI_IFNAME
		if p.validate(&Request{VIF: newVIF(), Netns: "/n", IfName: ifn, ContainerID: "c"}) == nil {
			t.Errorf("CNI_IFNAME %q accepted", ifn)
		}
	}
}

func TestValidateUsesConfiguredBridge(t *testing.T) {
	v := &apiv1.VIF{ID: portID, Address: podMAC, Bridge: "br-pods"}
	if err := ValidateVIF(v, "br-pods"); err != nil {
		t.Fatalf("configured bridge refused: %v", err)
	}
	if ValidateVIF(v, "") == nil {
		t.Fatalf("bridge br-pods accepted with the default %s", DefaultBridge)
	}
}

func TestNamesForIgnoresVIFName(t *testing.T) {
	n := NamesFor(&apiv1.VIF{ID: portID, VIFName: "eth0"})
	if n.Tap != apiv1.VIFNameForPort(portID) {
		t.Fatalf("tap %q", n.Tap)
	}
}
