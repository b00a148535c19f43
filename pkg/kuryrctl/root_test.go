package kuryrctl

import (
	"sort"
	"strings"
	"testing"
)

func TestRootHasEverySubcommand(t *testing.T) {
	var got []string
	for _, c := range NewRoot().Commands() {
		got = append(got, c.Name())
	}
	sort.Strings(got)
	for _, want := range []string{"bench", "doctor", "pools", "port", "router", "status"} {
		if i := sort.SearchStrings(got, want); i == len(got) || got[i] != want {
			t.Errorf("kuryrctl has no %q subcommand (has %s)", want, strings.Join(got, ", "))
		}
	}
}

func TestPrintTable(t *testing.T) {
	var b strings.Builder
	printTable(&b, [][]string{{"Field", "Value"}, {"name", "my-alpine-6898cf864b-98jbr"}, {"device_owner", "compute:kuryr"}})
	want := `+--------------+----------------------------+
| Field        | Value                      |
+--------------+----------------------------+
| name         | my-alpine-6898cf864b-98jbr |
| device_owner | compute:kuryr              |
+--------------+----------------------------+
`
	if b.String() != want {
		t.Fatalf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}
