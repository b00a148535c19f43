// Package testbed holds the tests that prove the all-in-one testbed is real: Neutron binds and
// activates ports, Open vSwitch carries pings and TCP, and the L3 agent routes between subnets.
package testbed

import (
	"os"
	"testing"

	"github.com/kuryr-go/kuryr-go/test/tbenv"
)

// Env is the parsed env file.
type Env map[string]string

// LoadEnv reads the testbed env file (KURYR_TESTBED_ENV overrides the path) and skips the test
// when the testbed is not up or the test does not run inside its network namespace.
func LoadEnv(t testing.TB) Env {
	t.Helper()
	path := tbenv.Path()
	raw, err := tbenv.Read(path)
	if os.IsNotExist(err) {
		t.Skipf("testbed not up (%v): run `hack/testbed.sh up`, then `make test-integration`", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	env := Env(raw)
	if os.Getuid() != 0 {
		t.Skip("testbed tests need root")
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil || !inNetns(env["TB_NETNS"]) {
		t.Skipf("not inside the testbed network namespace %q: run through `hack/testbed.sh exec`", env["TB_NETNS"])
	}
	return env
}

// Get returns a required value.
func (e Env) Get(t testing.TB, key string) string {
	t.Helper()
	v := e[key]
	if v == "" {
		t.Fatalf("testbed env file has no %s", key)
	}
	return v
}

// inNetns reports whether this process runs in the named network namespace.
func inNetns(name string) bool {
	if name == "" {
		return false
	}
	self, err1 := os.Stat("/proc/self/ns/net")
	named, err2 := os.Stat("/run/netns/" + name)
	if err1 != nil || err2 != nil {
		return false
	}
	return os.SameFile(self, named)
}
