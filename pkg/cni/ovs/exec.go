// Package ovs drives Open vSwitch through ovs-vsctl. Commands go through a Runner so tests can
// substitute a fake; nothing here keeps package-level state.
package ovs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Runner executes a command and returns its standard output.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// ExecRunner runs real processes.
type ExecRunner struct{}

// Run executes name with args. A non-zero exit is returned as *CommandError.
func (ExecRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	ce := &CommandError{Args: append([]string{name}, args...), Stderr: strings.TrimSpace(stderr.String()), Err: err, Code: -1}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ce.Code = ee.ExitCode()
	}
	return stdout.Bytes(), ce
}

// CommandError is a failed command with its exit code and standard error.
type CommandError struct {
	Args   []string
	Code   int
	Stderr string
	Err    error
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%s: exit code %d: %s", strings.Join(e.Args, " "), e.Code, e.Stderr)
}

func (e *CommandError) Unwrap() error { return e.Err }

// ExitCode returns the exit code of a *CommandError in err's chain, or -1.
func ExitCode(err error) int {
	var ce *CommandError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}
