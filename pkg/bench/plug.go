package bench

import (
	"context"
	"fmt"
	"os/exec"
	"time"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/ovs"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug"
)

// PlugOptions configures the local plug reference.
type PlugOptions struct {
	Count  int
	Bridge string
}

// RunPlug measures what the node daemon does locally for a pod, without Neutron or the OVS
// agent: veth pair, OVS add-port with the external_ids, and the pod side (MAC, MTU, address,
// routes) in a fresh network namespace; then the unplug. The ports are not Neutron's: the OVS
// agent ignores them. The namespaces are created with ip netns and removed afterwards.
func RunPlug(ctx context.Context, opts PlugOptions) (*PlugResult, error) {
	sw := &ovs.Client{Runner: ovs.ExecRunner{}, Binary: "ovs-vsctl", Timeout: 10 * time.Second}
	p := &plug.Plugger{Switch: sw, Bridge: opts.Bridge}
	var plugLat, unplugLat []float64
	for i := 0; i < opts.Count; i++ {
		nsName := fmt.Sprintf("kuryr-bench-plug-%d", i)
		if out, err := exec.CommandContext(ctx, "ip", "netns", "add", nsName).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("creating netns %s: %w: %s", nsName, err, out)
		}
		id := fmt.Sprintf("be0c%04x-0000-4000-8000-%012x", i, time.Now().UnixNano()&0xffffffffffff)
		vif := &apiv1.VIF{
			ID: id, Address: fmt.Sprintf("fa:16:3e:be:%02x:%02x", i/256, i%256), NetworkID: "bench", MTU: 1450,
			Bridge: opts.Bridge, VIFType: apiv1.VIFTypeOVS, PlugMode: apiv1.PlugModeNative, VIFName: apiv1.VIFNameForPort(id),
			Subnets: []apiv1.Subnet{{CIDR: "10.253.0.0/16", Gateway: "10.253.0.1", IPs: []string{fmt.Sprintf("10.253.%d.%d", 1+i/250, 2+i%250)}}},
		}
		req := &plug.Request{VIF: vif, Netns: "/run/netns/" + nsName, IfName: "eth0", ContainerID: "bench-" + id,
			PodNamespace: "kuryr-bench", PodName: nsName, PodUID: id, Default: true}
		start := time.Now()
		_, err := p.Plug(ctx, req)
		plugLat = append(plugLat, time.Since(start).Seconds())
		start = time.Now()
		uerr := p.Unplug(ctx, req.ContainerID, req.Netns, "eth0")
		unplugLat = append(unplugLat, time.Since(start).Seconds())
		_ = exec.Command("ip", "netns", "del", nsName).Run()
		if err != nil {
			return nil, fmt.Errorf("plug %d: %w", i, err)
		}
		if uerr != nil {
			return nil, fmt.Errorf("unplug %d: %w", i, uerr)
		}
	}
	return &PlugResult{Kind: "plug", Count: opts.Count, Latency: Summarize(plugLat), Unplug: Summarize(unplugLat)}, nil
}
