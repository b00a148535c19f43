//go:build integration

package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// TestHundredPodsLeaveNoPort creates 100 pods at once: every one gets its port; then it
// deletes them and no port of theirs may be left. The pods use a /24 of their own (the seed's
// /26 pod subnet holds about 60 ports and is shared with other tests). Skipped with -short.
func TestHundredPodsLeaveNoPort(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: 100 pods")
	}
	tb := LoadTestbed(t)
	kube, nc := tb.Kube(t), tb.Neutron(t)
	if holder, ok := externalController(kube); ok {
		t.Skipf("needs the in-process controller with its own subnet, but %s holds the lease (hack/testbed.sh kuryr-stop)", holder)
	}
	ns := tb.Namespace(t, kube)
	cfg := tb.Config(t, "it-"+randomSuffix())
	cfg.NeutronDefaults.PodSubnet = tb.EnsureSubnet(t, "k8s-scale-subnet", "10.2.0.0/24")
	tb.runController(t, cfg, ns)
	ctx := context.Background()
	const n = 100

	start := time.Now()
	uids := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			p := createPod(t, kube, testPod(tb, ns, fmt.Sprintf("scale-%03d", i)))
			mu.Lock()
			uids[string(p.UID)] = true
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	t.Cleanup(func() {
		for i := 0; i < n; i++ {
			deletePod(t, kube, ns, fmt.Sprintf("scale-%03d", i))
		}
	})

	// Every pod gets its port.
	var withPort int
	Eventually(t, 5*time.Minute, 250*time.Millisecond, "every pod with its port", func() bool {
		withPort = 0
		for i := 0; i < n; i++ {
			if kp := getKP(kube, ns, fmt.Sprintf("scale-%03d", i)); kp != nil && kp.Status.VIFs["eth0"].VIF.ID != "" {
				withPort++
			}
		}
		return withPort == n
	})
	elapsed := time.Since(start)
	t.Logf("%d pods got their ports within %v (%.2f ports/s)", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())

	delStart := time.Now()
	for i := 0; i < n; i++ {
		deletePod(t, kube, ns, fmt.Sprintf("scale-%03d", i))
	}
	Eventually(t, 5*time.Minute, time.Second, "all pods and their ports gone", func() bool {
		for i := 0; i < n; i++ {
			if !podGone(kube, ns, fmt.Sprintf("scale-%03d", i)) {
				return false
			}
		}
		ports, err := nc.ListPorts(ctx, neutron.PortFilter{DeviceOwner: neutron.DeviceOwnerKuryr})
		if err != nil {
			t.Logf("listing ports: %v", err)
			return false
		}
		for _, p := range ports {
			if uids[p.DeviceID] {
				return false
			}
		}
		return true
	})
	t.Logf("deleting %d pods released everything in %v", n, time.Since(delStart).Round(time.Millisecond))
}
