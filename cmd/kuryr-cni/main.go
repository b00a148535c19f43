// Command kuryr-cni is the CNI plugin of kuryr-go. The container runtime executes it for every
// pod sandbox; it forwards the call to kuryr-daemon on the node and prints the result.
package main

import (
	"runtime"

	"github.com/kuryr-go/kuryr-go/pkg/cni/plugin"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	// A CNI plugin may be asked to enter namespaces; keep main on one OS thread.
	runtime.LockOSThread()
}

func main() { plugin.Main(version) }
