// Command kuryrctl inspects and repairs a kuryr-go installation: status, Neutron port views,
// and (with later subcommands) doctor, gc, pools and bench.
package main

import (
	"os"

	"github.com/kuryr-go/kuryr-go/pkg/kuryrctl"
)

func main() {
	if err := kuryrctl.NewRoot().Execute(); err != nil {
		os.Exit(1)
	}
}
