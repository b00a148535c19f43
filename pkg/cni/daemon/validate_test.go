package daemon

import (
	"context"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/kuryr-go/kuryr-go/pkg/cni/api"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug"
)

func TestDaemonRejectsForgedVIF(t *testing.T) {
	f := newFixture(SignalNone)
	kp := testKP(testUID, true)
	v := kp.Status.VIFs["eth0"]
	v.VIF.Bridge, v.VIF.VIFName = "br-ex", "bond0"
	kp.Status.VIFs["eth0"] = v
	f.ports.set(kp)
	if _, err := f.svc.Add(context.Background(), addReq()); err == nil && len(f.plugger.plugs) == 1 {
		t.Errorf("forged VIF plugged: bridge %q, host device %q", f.plugger.plugs[0].VIF.Bridge, plug.NamesFor(f.plugger.plugs[0].VIF).Tap)
	}
	if plugs, unplugs := f.plugger.counts(); plugs != 0 || unplugs != 0 {
		t.Errorf("plugger called for a refused VIF: %d plugs, %d unplugs", plugs, unplugs)
	}
}

func TestDaemonRefusesBridgeOtherThanConfigured(t *testing.T) {
	f := newFixture(SignalNone)
	f.svc.Bridge = "br-pods"
	f.ports.set(testKP(testUID, true)) // bridge br-int
	if _, err := f.svc.Add(context.Background(), addReq()); err == nil {
		t.Fatal("VIF on br-int plugged by a daemon configured for br-pods")
	}
	kp := testKP(testUID, true)
	v := kp.Status.VIFs["eth0"]
	v.VIF.Bridge = "br-pods"
	kp.Status.VIFs["eth0"] = v
	f.ports.set(kp)
	if _, err := f.svc.Add(context.Background(), addReq()); err != nil {
		t.Fatalf("VIF on the configured bridge refused: %v", err)
	}
}

func TestDaemonRefusesInvalidVIFKey(t *testing.T) {
	f := newFixture(SignalNone)
	kp := testKP(testUID, true)
	extra := kp.Status.VIFs["eth0"]
	extra.Default = false
	kp.Status.VIFs["../../etc"] = extra
	f.ports.set(kp)
	if _, err := f.svc.Add(context.Background(), addReq()); err == nil {
		t.Fatal("VIF key ../../etc accepted as an interface name")
	}
	if plugs, _ := f.plugger.counts(); plugs != 0 {
		t.Fatalf("%d plugs for a refused KuryrPort", plugs)
	}
}

func TestInvalidIfNameIsRejectedBeforePlugging(t *testing.T) {
	f := newFixture(SignalNone)
	f.ports.set(testKP(testUID, true))
	for _, ifn := range []string{"eth0eth0eth0eth0x", "../../etc", "a b", ".", ".."} {
		for _, cmd := range []string{api.CmdAdd, api.CmdCheck} {
			req := addReq()
			req.Command, req.IfName = cmd, ifn
			if err := validateRequest(req); err == nil || code(t, err) != types.ErrInvalidEnvironmentVariables {
				t.Errorf("%s with CNI_IFNAME %q: %v", cmd, ifn, err)
			}
		}
		req := addReq()
		req.IfName = ifn
		if _, err := f.svc.Add(context.Background(), req); err == nil || code(t, err) != types.ErrInvalidEnvironmentVariables {
			t.Errorf("Add with CNI_IFNAME %q: %v", ifn, err)
		}
		req.Command = api.CmdDel
		if err := f.svc.Del(context.Background(), req); err != nil {
			t.Errorf("Del with CNI_IFNAME %q: %v", ifn, err)
		}
	}
	if plugs, unplugs := f.plugger.counts(); plugs != 0 || unplugs != 0 {
		t.Fatalf("plugger called: %d plugs, %d unplugs", plugs, unplugs)
	}
}
