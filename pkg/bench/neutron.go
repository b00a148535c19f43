package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// PortTarget is where the references create their ports: as kuryr-go creates pod ports.
type PortTarget struct {
	NetworkID string
	SubnetID  string
	ProjectID string
	HostID    string
	SGs       []string
}

// createOpts is the create request of one reference port.
func (t PortTarget) createOpts(name, deviceOwner, deviceID string) neutron.PortCreateOpts {
	return neutron.PortCreateOpts{
		Name: name, NetworkID: t.NetworkID, ProjectID: t.ProjectID, SubnetIDs: []string{t.SubnetID},
		DeviceOwner: deviceOwner, DeviceID: deviceID, HostID: t.HostID, SecurityGroups: t.SGs,
	}
}

// NeutronOptions configures the raw port-create reference.
type NeutronOptions struct {
	PortTarget
	Ports       int
	Concurrency int
	BulkPorts   int // one bulk POST of this many ports, 0 to skip
}

// inFlight calls f(0) .. f(n-1), concurrency calls at a time, and returns how long that took.
func inFlight(n, concurrency int, f func(i int)) time.Duration {
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < max(concurrency, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return time.Since(start)
}

// RunNeutron creates opts.Ports ports with a bare client loop (opts.Concurrency in flight),
// the way a pod controller would without any logic of its own, then deletes them. The rate it
// measures is the ceiling for pods per second when every pod needs a new port.
func RunNeutron(ctx context.Context, oc neutron.Client, opts NeutronOptions) (_ *NeutronResult, err error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 1
	}
	spec := func(i int) neutron.PortCreateOpts {
		name := fmt.Sprintf("bench-raw-%03d", i)
		return opts.createOpts(name, "compute:kuryr-bench", name)
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
	elapsed := inFlight(opts.Ports, opts.Concurrency, func(i int) {
		t := time.Now()
		p, err := oc.CreatePort(ctx, spec(i))
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		ids = append(ids, p.ID)
		lat = append(lat, time.Since(t).Seconds())
	}).Seconds()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d of %d port creates failed, first: %w", len(errs), opts.Ports, errs[0])
	}
	res := &NeutronResult{Kind: "neutron", Ports: opts.Ports, Concurrency: opts.Concurrency, Seconds: elapsed,
		PerSecond: float64(opts.Ports) / elapsed, Latency: Summarize(lat)}
	if opts.BulkPorts > 0 {
		specs := make([]neutron.PortCreateOpts, opts.BulkPorts)
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
func deletePorts(ctx context.Context, oc neutron.Client, ids []string) error {
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
