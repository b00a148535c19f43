package plug

import (
	"context"
	"errors"
	"testing"

	"github.com/containernetworking/plugins/pkg/netlinksafe"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
)

// A parked port is wired without a pod; the pod that takes it gets the same devices moved
// into its namespace, fully configured, without a new OVS port.
func TestParkThenClaim(t *testing.T) {
	for _, mode := range []string{apiv1.PlugModeNative, apiv1.PlugModeHybrid} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			pod := newNS(t)
			ctx := context.Background()
			v := vif(mode)
			ovsPort := NamesFor(v).OVSPort()
			e.inHost(t, func() error {
				if err := e.p.Park(ctx, v); err != nil {
					return err
				}
				// Parking twice is harmless.
				if err := e.p.Park(ctx, v); err != nil {
					return err
				}
				parked, err := netlinksafe.LinkByName("kp5f0e6a1c-3b")
				if err != nil {
					return err
				}
				if parked.Attrs().HardwareAddr.String() != podMAC || parked.Attrs().MTU != 1400 {
					t.Errorf("parked interface: mac %s mtu %d", parked.Attrs().HardwareAddr, parked.Attrs().MTU)
				}
				iface, ok := e.sw.Port(ovsPort)
				if !ok || iface.ExternalIDs[ovs.KeyParked] != "true" || iface.ExternalIDs[ovs.KeyIfaceID] != portID ||
					iface.ExternalIDs[ovs.KeyContainerID] != "" {
					t.Errorf("parked OVS port %s: %+v %v", ovsPort, iface, ok)
				}
				list, err := e.p.ListParked(ctx, e.sw)
				if err != nil || len(list) != 1 || list[0].PortID != portID {
					t.Errorf("ListParked: %+v %v", list, err)
				}
				e.sw.Calls = nil
				res, err := e.p.Plug(ctx, request(v, pod, "cid-p"))
				if err != nil {
					return err
				}
				if !res.Parked || res.OVSPort != ovsPort || res.HostIfName != "tap5f0e6a1c-3b" {
					t.Errorf("result: %+v", res)
				}
				if len(e.sw.Calls) != 1 || e.sw.Calls[0] != "set "+ovsPort {
					t.Errorf("OVS calls of a claim: %v (want one external_ids update)", e.sw.Calls)
				}
				iface, _ = e.sw.Port(ovsPort)
				if iface.ExternalIDs[ovs.KeyParked] != "" || iface.ExternalIDs[ovs.KeyContainerID] != "cid-p" ||
					iface.ExternalIDs[ovs.KeyPodName] != "pod1" {
					t.Errorf("claimed OVS port: %+v", iface.ExternalIDs)
				}
				if hasLink(t, "kp5f0e6a1c-3b") {
					t.Error("parked interface still in the host namespace")
				}
				// A claimed port is no longer parked: Unpark and Park leave it alone.
				if err := e.p.Unpark(ctx, v); err != nil {
					return err
				}
				if err := e.p.Park(ctx, v); !errors.Is(err, ErrInUse) {
					t.Errorf("Park of a claimed port: %v", err)
				}
				return e.p.Check(ctx, request(v, pod, "cid-p"))
			})
			verifyPod(t, pod)
			tcpToGateway(t, e, pod)
			e.inHost(t, func() error {
				if err := e.p.Unplug(ctx, "cid-p", pod.Path(), "eth0"); err != nil {
					return err
				}
				for _, l := range []string{"tap5f0e6a1c-3b", "kp5f0e6a1c-3b", "qbr5f0e6a1c-3b", "qvo5f0e6a1c-3b"} {
					if hasLink(t, l) {
						t.Errorf("%s left behind", l)
					}
				}
				if len(e.sw.Ports()) != 0 {
					t.Errorf("OVS ports left: %v", e.sw.Ports())
				}
				return nil
			})
			verifyNoPodIface(t, pod)
		})
	}
}

func TestUnparkAndBrokenParkedPorts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v := vif(apiv1.PlugModeNative)
	e.inHost(t, func() error {
		if err := e.p.Park(ctx, v); err != nil {
			return err
		}
		if err := e.p.Unpark(ctx, v); err != nil {
			return err
		}
		if hasLink(t, "tap5f0e6a1c-3b") || hasLink(t, "kp5f0e6a1c-3b") || len(e.sw.Ports()) != 0 {
			t.Errorf("unpark left devices; OVS ports %v", e.sw.Ports())
		}
		// A parked port whose interface vanished (deleted by hand) is dropped by ListParked.
		if err := e.p.Park(ctx, v); err != nil {
			return err
		}
		if err := deleteLink("kp5f0e6a1c-3b"); err != nil {
			return err
		}
		list, err := e.p.ListParked(ctx, e.sw)
		if err != nil || len(list) != 0 {
			t.Errorf("ListParked: %+v %v", list, err)
		}
		if len(e.sw.Ports()) != 0 {
			t.Errorf("broken parked port kept in OVS: %v", e.sw.Ports())
		}
		return nil
	})
}

// A plug of a port that is not parked here takes the normal path.
func TestPlugWithoutParkedPort(t *testing.T) {
	e := newEnv(t)
	pod := newNS(t)
	e.inHost(t, func() error {
		res, err := e.p.Plug(context.Background(), request(vif(apiv1.PlugModeNative), pod, "cid-n"))
		if err == nil && res.Parked {
			t.Error("result says parked")
		}
		return err
	})
	verifyPod(t, pod)
}
