// Package tbenv reads the env file `hack/testbed.sh up` writes: the testbed's endpoints, IDs
// and paths, one KEY=value per line. The test suites share it.
package tbenv

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// DefaultPath is where the testbed writes its env file.
const DefaultPath = "/var/lib/kuryr-testbed/env"

// Path is the env file to read: $KURYR_TESTBED_ENV, else DefaultPath.
func Path() string {
	if p := os.Getenv("KURYR_TESTBED_ENV"); p != "" {
		return p
	}
	return DefaultPath
}

// Read parses an env file; blank lines and comments are skipped, quotes around values
// dropped.
func Read(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			env[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return env, nil
}
