package plug

import (
	"context"
	"errors"
	"testing"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/vishvananda/netlink"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
)

// addBridge creates a non-kuryr link, a Linux bridge, in the env's host namespace.
func addBridge(t *testing.T, e *env, name string) {
	t.Helper()
	e.inHost(t, func() error {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		return netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs})
	})
}

// plugFails plugs req in the env's host namespace and returns the error it must fail with.
func plugFails(t *testing.T, e *env, req *Request) error {
	t.Helper()
	var err error
	e.inHost(t, func() error { _, err = e.p.Plug(context.Background(), req); return nil })
	if err == nil {
		t.Fatal("plug succeeded")
	}
	return err
}

func requireLink(t *testing.T, e *env, name, kind string) {
	t.Helper()
	e.inHost(t, func() error {
		link, err := netlinksafe.LinkByName(name)
		if err != nil {
			t.Errorf("%s is gone: %v", name, err)
		} else if link.Type() != kind {
			t.Errorf("%s is a %s now, want %s", name, link.Type(), kind)
		}
		return nil
	})
}

func TestPlugLeavesLinkNamedByVIFNameAlone(t *testing.T) {
	e := newEnv(t)
	addBridge(t, e, "bond0")
	v := vif(apiv1.PlugModeNative)
	v.VIFName = "bond0"
	err := plugFails(t, e, request(v, newNS(t), "cid-1"))
	t.Logf("refused: %v", err)
	requireLink(t, e, "bond0", "bridge")
	if got := e.sw.Ports(); len(got) != 0 {
		t.Fatalf("OVS ports: %v", got)
	}
}

func TestPlugLeavesForeignDeviceOfDerivedNameAlone(t *testing.T) {
	e := newEnv(t)
	tap := apiv1.VIFNameForPort(portID)
	addBridge(t, e, tap)
	err := plugFails(t, e, request(vif(apiv1.PlugModeNative), newNS(t), "cid-1"))
	if !errors.Is(err, ErrForeignDevice) {
		t.Fatalf("error: %v", err)
	}
	requireLink(t, e, tap, "bridge")
}

func TestPlugLeavesOtherPortsOVSInterfaceAlone(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Another port plugged under the same name (its ID shares the first 11 characters).
	other := vif(apiv1.PlugModeNative)
	other.ID, other.Address = portID[:11]+"00-4000-8000-000000000000", "fa:16:3e:99:99:99"
	e.inHost(t, func() error { _, err := e.p.Plug(ctx, request(other, newNS(t), "cid-other")); return err })
	tap := apiv1.VIFNameForPort(portID)
	err := plugFails(t, e, request(vif(apiv1.PlugModeNative), newNS(t), "cid-1"))
	if !errors.Is(err, ErrForeignDevice) {
		t.Fatalf("error: %v", err)
	}
	requireLink(t, e, tap, "veth")
	if iface, ok := e.sw.Port(tap); !ok || iface.ExternalIDs[ovs.KeyIfaceID] != other.ID || iface.ExternalIDs[ovs.KeyContainerID] != "cid-other" {
		t.Fatalf("other port's OVS interface changed: %+v %v", iface, ok)
	}
}

func TestPlugReplacesItsOwnLeftovers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.inHost(t, func() error {
		_, err := e.p.Plug(ctx, request(vif(apiv1.PlugModeHybrid), newNS(t), "cid-old"))
		return err
	})
	pod := newNS(t)
	e.inHost(t, func() error { _, err := e.p.Plug(ctx, request(vif(apiv1.PlugModeHybrid), pod, "cid-new")); return err })
	verifyPod(t, pod)
	if iface, ok := e.sw.Port(NamesFor(vif(apiv1.PlugModeHybrid)).OVSPort()); !ok || iface.ExternalIDs[ovs.KeyContainerID] != "cid-new" {
		t.Fatalf("OVS interface: %+v %v", iface, ok)
	}
}
