//go:build integration

package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
)

// TestHundredPodsLeaveNoPort creates 100 pods at once and deletes them; afterwards no port
// of theirs may be left. The /26 pod subnet holds about 60 ports, so part of the pods waits
// on SubnetExhausted and gets its port once others are gone. Skipped with -short.
func TestHundredPodsLeaveNoPort(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: 100 pods")
	}
	tb := LoadTestbed(t)
	kube, neutron := tb.Kube(t), tb.Neutron(t)
	ns := tb.Namespace(t, kube)
	tb.StartController(t, kube, ns)
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

	// Every pod has a port or is waiting for addresses (or quota).
	var withPort int
	Eventually(t, 3*time.Minute, 250*time.Millisecond, "every pod handled", func() bool {
		withPort = 0
		for i := 0; i < n; i++ {
			kp := getKP(kube, ns, fmt.Sprintf("scale-%03d", i))
			switch {
			case kp == nil:
				return false
			case kp.Status.VIFs["eth0"].VIF.ID != "":
				withPort++
			case readyReason(kp) != apiv1.ReasonSubnetFull && readyReason(kp) != apiv1.ReasonQuotaExceeded:
				return false
			}
		}
		return true
	})
	elapsed := time.Since(start)
	t.Logf("%d of %d pods got a port within %v (%.1f ports/s); the rest wait for free addresses",
		withPort, n, elapsed.Round(time.Millisecond), float64(withPort)/elapsed.Seconds())

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
		ports, err := neutron.ListPorts(ctx, openstack.PortFilter{DeviceOwner: openstack.DeviceOwnerKuryr})
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
