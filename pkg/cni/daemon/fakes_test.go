package daemon

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug"
)

const (
	testPortID = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
	testUID    = "11111111-2222-3333-4444-555555555555"
	testCID    = "cid0123456789abcdef"
)

type fakePorts struct {
	mu      sync.Mutex
	ports   map[string]*apiv1.KuryrPort
	changed chan struct{}
}

func newFakePorts() *fakePorts {
	return &fakePorts{ports: map[string]*apiv1.KuryrPort{}, changed: make(chan struct{})}
}

func (f *fakePorts) set(kp *apiv1.KuryrPort) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ports[kp.Namespace+"/"+kp.Name] = kp.DeepCopy()
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakePorts) GetPort(_ context.Context, ns, name string) (*apiv1.KuryrPort, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if kp := f.ports[ns+"/"+name]; kp != nil {
		return kp.DeepCopy(), nil
	}
	return nil, nil
}

func (f *fakePorts) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

type fakePods map[string]string // ns/name -> uid

func (f fakePods) PodUID(_ context.Context, ns, name string) (string, bool, error) {
	uid, ok := f[ns+"/"+name]
	return uid, ok, nil
}

type fakePlugger struct {
	mu       sync.Mutex
	plugs    []*plug.Request
	unplugs  []string
	checks   int
	plugErr  error
	checkErr error
}

func (f *fakePlugger) Plug(_ context.Context, req *plug.Request) (*plug.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plugs = append(f.plugs, req)
	if f.plugErr != nil {
		return nil, f.plugErr
	}
	mac, _ := net.ParseMAC(req.VIF.Address)
	hmac, _ := net.ParseMAC("aa:bb:cc:dd:ee:ff")
	n := plug.NamesFor(req.VIF)
	return &plug.Result{HostIfName: n.Tap, HostMAC: hmac, PodMAC: mac, OVSPort: n.OVSPort()}, nil
}

func (f *fakePlugger) Unplug(_ context.Context, cid, _, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unplugs = append(f.unplugs, cid)
	return nil
}

func (f *fakePlugger) Check(context.Context, *plug.Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks++
	return f.checkErr
}

func (f *fakePlugger) counts() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.plugs), len(f.unplugs)
}

type fakeTags struct {
	mu   sync.Mutex
	tags map[string]int
}

func (f *fakeTags) set(port string, tag int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tags == nil {
		f.tags = map[string]int{}
	}
	f.tags[port] = tag
}

func (f *fakeTags) PortTag(_ context.Context, port string, _ time.Time) (int, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tags[port]
	return t, ok, nil
}

var errBoom = errors.New("boom")

func testKP(uid string, active bool) *apiv1.KuryrPort {
	return &apiv1.KuryrPort{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "pod1", Labels: map[string]string{apiv1.NodeNameLabel: "node"}},
		Spec:       apiv1.KuryrPortSpec{PodUID: uid, PodNodeName: "node"},
		Status: apiv1.KuryrPortStatus{VIFs: map[string]apiv1.VIFStatus{"eth0": {Default: true, VIF: apiv1.VIF{
			ID: testPortID, Address: "fa:16:3e:aa:bb:cc", NetworkID: "net", MTU: 1450, Bridge: "br-int",
			VIFType: apiv1.VIFTypeOVS, PlugMode: apiv1.PlugModeNative, VIFName: apiv1.VIFNameForPort(testPortID),
			Subnets: []apiv1.Subnet{{CIDR: "10.0.0.64/26", Gateway: "10.0.0.65", DNS: []string{"10.0.0.2"}, IPs: []string{"10.0.0.70"}}},
			Active:  active,
		}}}},
	}
}
