package tbenv

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(p, []byte("# comment\n\nA=1\nB = \"two\"\nC='x=y'\nnot a pair\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(env) != 3 || env["A"] != "1" || env["B"] != "two" || env["C"] != "x=y" {
		t.Fatalf("env = %v", env)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("no error for a missing file")
	}
	t.Setenv("KURYR_TESTBED_ENV", p)
	if Path() != p {
		t.Fatalf("Path() = %s", Path())
	}
}
