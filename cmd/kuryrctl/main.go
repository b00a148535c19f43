// Command kuryrctl inspects and repairs a kuryr-go installation: status, doctor, Neutron port
// views, gc, pools and bench.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kuryr-go/kuryr-go/pkg/kuryrctl"
)

func main() {
	// Interrupted, a command stops its work and still runs its clean-up (the benchmarks
	// remove what they created).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := kuryrctl.NewRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		os.Exit(1)
	}
}
