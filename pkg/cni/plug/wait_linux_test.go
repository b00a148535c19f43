package plug

import (
	"testing"
	"time"
)

// waitGone waits for the kernel to destroy a link (namespace teardown is asynchronous).
func waitGone(t *testing.T, name string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if !hasLink(t, name) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s still exists", name)
}
