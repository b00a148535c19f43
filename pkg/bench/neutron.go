package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
)

// NeutronOptions configures the raw port-create reference.
type NeutronOptions struct {
	Ports       int
	Concurrency int
	BulkPorts   int // one bulk POST of this many ports, 0 to skip
	NetworkID   string
	SubnetID    string
	ProjectID   string
	HostID      string
	SGs         []string
}

// RunNeutron creates opts.Ports ports with a bare client loop (opts.Concurrency in flight),
// the way a pod controller would without any logic of its own, then deletes them. The rate it
// measures is the ceiling for pods per second when every pod needs a new port.
func RunNeutron(ctx context.Context, oc openstack.Client, opts NeutronOptions) (_ *NeutronResult, err error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 1
	}
	spec := func(i int) openstack.PortCreateOpts {
		return openstack.PortCreateOpts{
			Name: fmt.Sprintf("bench-raw-%03d", i), NetworkID: opts.NetworkID, ProjectID: opts.ProjectID,
			SubnetIDs: []string{opts.SubnetID}, DeviceOwner: "compute:kuryr-bench", DeviceID: fmt.Sprintf("bench-raw-%03d", i),
			HostID: opts.HostID, SecurityGroups: opts.SGs,
		}
	}
	var (
		mu   sync.Mutex
		ids  []string
		lat  []float64
		errs []error
	)
	defer func() {
		if derr := deletePorts(context.WithoutCancel(ctx), oc, ids); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < opts.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t := time.Now()
				p, err := oc.CreatePort(ctx, spec(i))
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					ids = append(ids, p.ID)
					lat = append(lat, time.Since(t).Seconds())
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < opts.Ports; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d of %d port creates failed, first: %w", len(errs), opts.Ports, errs[0])
	}
	res := &NeutronResult{Kind: "neutron", Ports: opts.Ports, Concurrency: opts.Concurrency, Seconds: elapsed,
		PerSecond: float64(opts.Ports) / elapsed, Latency: Summarize(lat)}
	if opts.BulkPorts > 0 {
		specs := make([]openstack.PortCreateOpts, opts.BulkPorts)
		for i := range specs {
			specs[i] = spec(1000 + i)
		}
		t := time.Now()
		ports, err := oc.CreatePorts(ctx, specs)
		if err != nil {
			return res, fmt.Errorf("bulk create of %d ports: %w", opts.BulkPorts, err)
		}
		res.BulkPorts, res.BulkSeconds = len(ports), time.Since(t).Seconds()
		for _, p := range ports {
			ids = append(ids, p.ID)
		}
	}
	return res, nil
}

// deletePorts deletes ids, 4 at a time; a port already gone is no error.
func deletePorts(ctx context.Context, oc openstack.Client, ids []string) error {
	sem := make(chan struct{}, 4)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := oc.DeletePort(ctx, id); err != nil && !openstack.IsNotFound(err) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("deleting port %s: %w", id, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
