package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/vif"
)

// WiredOptions configures the create-and-wire reference.
type WiredOptions struct {
	PortTarget
	Ports       int
	Concurrency int
	Bridge      string
	// Timeout bounds the wait for one port to be wired.
	Timeout time.Duration
}

// WiredResult is the create-and-wire reference: what every pod without a pool needs from
// Neutron and the OVS agent, done by a bare loop with no Kubernetes at all.
type WiredResult struct {
	Kind        string  `json:"kind"` // "wired"
	Ports       int     `json:"ports"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"perSecond"`
	// Latency is from the create request to the agent's local VLAN tag on the OVS port.
	Latency Summary `json:"latency"`
	// Create is the create request alone.
	Create Summary `json:"create"`
}

// RunWired creates opts.Ports ports bound to the node, each followed at once by the local
// plug (veth into a fresh namespace, OVS add-port with the port's iface-id) and a wait until
// the OVS agent has wired it (the port's local VLAN tag), opts.Concurrency at a time. Then it
// unplugs and deletes everything. Its rate is the ceiling, on this machine, of pods per
// second for any CNI that gives each pod a new Neutron port: the cost of the create and of
// the agent's work, without a controller, a kubelet or a container runtime.
func RunWired(ctx context.Context, oc neutron.Client, opts WiredOptions) (res *WiredResult, err error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	network, err := oc.GetNetwork(ctx, opts.NetworkID)
	if err != nil {
		return nil, fmt.Errorf("getting the network: %w", err)
	}
	subnet, err := oc.GetSubnet(ctx, opts.SubnetID)
	if err != nil {
		return nil, fmt.Errorf("getting the subnet: %w", err)
	}
	sw := &ovs.Client{Runner: ovs.ExecRunner{}, Binary: "ovs-vsctl", Timeout: 10 * time.Second}
	p := &plug.Plugger{Switch: sw, Bridge: opts.Bridge}
	tags := &ovs.TagSnapshot{Client: sw, MaxAge: 100 * time.Millisecond}
	if err := sweepWired(ctx, oc, sw); err != nil { // what an interrupted run left
		return nil, err
	}
	var (
		mu        sync.Mutex
		lat, clat []float64
		errs      []error
	)
	// Everything this run makes carries its device owner or name prefix: a sweep at the end
	// removes it. After a failed or interrupted run, creates the client gave up on may still
	// complete in Neutron: the sweep is repeated until one finds nothing.
	defer func() {
		cctx := context.WithoutCancel(ctx)
		cerr := sweepWired(cctx, oc, sw)
		if err != nil || ctx.Err() != nil {
			deadline, clean := time.Now().Add(wiredSettle), time.Now()
			for cerr == nil && time.Now().Before(deadline) && time.Since(clean) < wiredQuiet {
				time.Sleep(3 * time.Second)
				left, lerr := oc.ListPorts(cctx, neutron.PortFilter{DeviceOwner: wiredDeviceOwner})
				if lerr != nil || len(left) > 0 {
					cerr, clean = sweepWired(cctx, oc, sw), time.Now()
				}
			}
		}
		if cerr != nil {
			err = errors.Join(err, cerr)
			res = nil
		}
	}()
	one := func(i int) (float64, float64, error) {
		netns := fmt.Sprintf("%s%d", wiredNetnsPrefix, i)
		if out, err := exec.CommandContext(ctx, "ip", "netns", "add", netns).CombinedOutput(); err != nil {
			return 0, 0, fmt.Errorf("creating netns %s: %w: %s", netns, err, out)
		}
		start := time.Now()
		port, err := oc.CreatePort(ctx, opts.createOpts(fmt.Sprintf("bench-wired-%03d", i), wiredDeviceOwner, netns))
		if err != nil {
			return 0, 0, err
		}
		created := time.Since(start).Seconds()
		v := vif.FromPort(port, network, map[string]*neutron.Subnet{subnet.ID: subnet}, vif.Options{OVSBridge: opts.Bridge})
		req := &plug.Request{VIF: &v, Netns: "/run/netns/" + netns, IfName: "eth0", ContainerID: "bench-wired-" + port.ID,
			PodNamespace: "kuryr-bench", PodName: netns, PodUID: port.ID, Default: true}
		if _, err := p.Plug(ctx, req); err != nil {
			return 0, 0, fmt.Errorf("plugging port %s: %w", port.ID, err)
		}
		name := plug.NamesFor(&v).OVSPort()
		plugged := time.Now()
		deadline := plugged.Add(opts.Timeout)
		for {
			if _, ok, err := tags.PortTag(ctx, name, plugged); err == nil && ok {
				return time.Since(start).Seconds(), created, nil
			}
			if time.Now().After(deadline) {
				return 0, 0, fmt.Errorf("port %s not wired by the OVS agent within %s", port.ID, opts.Timeout)
			}
			select {
			case <-ctx.Done():
				return 0, 0, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	elapsed := inFlight(opts.Ports, opts.Concurrency, func(i int) {
		l, c, err := one(i)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		lat, clat = append(lat, l), append(clat, c)
	}).Seconds()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d of %d ports not created and wired, first: %w", len(errs), opts.Ports, errs[0])
	}
	return &WiredResult{Kind: "wired", Ports: opts.Ports, Concurrency: opts.Concurrency, Seconds: elapsed,
		PerSecond: float64(opts.Ports) / elapsed, Latency: Summarize(lat), Create: Summarize(clat)}, nil
}

// What the create-and-wire reference makes is marked with these.
const (
	wiredDeviceOwner = "compute:kuryr-bench-wired"
	wiredNetnsPrefix = "kuryr-bench-wire-"
	// After a failed run, abandoned creates may still complete: sweeps go on until none has
	// found a port for wiredQuiet, for at most wiredSettle.
	wiredQuiet, wiredSettle = 15 * time.Second, time.Minute
)

// sweepWired removes every port of the create-and-wire reference: its OVS port and host
// device, its namespace and the Neutron port; and the namespaces of ports never created.
func sweepWired(ctx context.Context, oc neutron.Client, sw *ovs.Client) error {
	ports, err := oc.ListPorts(ctx, neutron.PortFilter{DeviceOwner: wiredDeviceOwner})
	if err != nil {
		return fmt.Errorf("listing the ports of the create-and-wire reference: %w", err)
	}
	var errs []error
	ids := make([]string, 0, len(ports))
	for _, port := range ports {
		dev := apiv1.VIFNameForPort(port.ID)
		if err := sw.DelPort(ctx, dev); err != nil {
			errs = append(errs, err)
		}
		_ = exec.CommandContext(ctx, "ip", "link", "del", dev).Run() // gone with its namespace, usually
		ids = append(ids, port.ID)
	}
	if entries, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), wiredNetnsPrefix) {
				if out, err := exec.CommandContext(ctx, "ip", "netns", "del", e.Name()).CombinedOutput(); err != nil {
					errs = append(errs, fmt.Errorf("deleting netns %s: %w: %s", e.Name(), err, out))
				}
			}
		}
	}
	if err := deletePorts(ctx, oc, ids); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
