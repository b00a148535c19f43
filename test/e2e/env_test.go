//go:build e2e

// Package e2e runs kuryr-go against the testbed (hack/testbed.sh up): real Neutron with the OVS
// agent, Open vSwitch on the userspace datapath and a real Kubernetes node, all inside the
// network namespace kuryr-tb. Run as root:
//
//	go test -tags e2e -v ./test/e2e/
//
// The tests re-execute themselves inside the testbed namespace. Without the testbed's env
// file every test is skipped.
package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kuryr-go/kuryr-go/test/tbenv"
)

var envFile = tbenv.Path()

// tb is the testbed's env file (KEY=VALUE); nil when the testbed is not up.
var tb map[string]string

// binDir holds freshly built kuryr-cni and kuryr-daemon binaries.
var binDir string

// repoRoot is the module root (two levels up from this package).
var repoRoot, _ = filepath.Abs("../..")

func TestMain(m *testing.M) {
	env, err := tbenv.Read(envFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: testbed not up (%v): every test will be skipped\n", err)
		os.Exit(m.Run())
	}
	tb = env
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: needs root (network namespaces, OVS)")
		tb = nil
		os.Exit(m.Run())
	}
	if !inNetns("/run/netns/" + env["TB_NETNS"]) {
		cmd := exec.Command("nsenter", append([]string{"--net=/run/netns/" + env["TB_NETNS"], "--"}, os.Args...)...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				os.Exit(ee.ExitCode())
			}
			fmt.Fprintln(os.Stderr, "e2e: re-executing in the testbed namespace:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	binDir, err = os.MkdirTemp("", "kuryr-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, b := range []string{"kuryr-cni", "kuryr-daemon"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, b), filepath.Join(repoRoot, "cmd", b)).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building %s: %v\n%s", b, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(binDir)
	os.Exit(code)
}

// requireTestbed skips the test when the testbed is not up.
func requireTestbed(t *testing.T) {
	t.Helper()
	if tb == nil {
		t.Skipf("testbed not up (%s missing) or not root: start it with hack/testbed.sh up", envFile)
	}
}

// inNetns reports whether this process is in the network namespace bound at path.
func inNetns(path string) bool {
	var a, b syscall.Stat_t
	if syscall.Stat("/proc/self/ns/net", &a) != nil || syscall.Stat(path, &b) != nil {
		return false
	}
	return a.Ino == b.Ino && a.Dev == b.Dev
}

// run executes a command and returns its combined output.
func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// mustRun is run that fails the test on error.
func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := run(t, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}
