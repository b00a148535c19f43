package main

import "testing"

func TestLeaderElectionIsOnByDefault(t *testing.T) {
	cmd := newCommand()
	f := cmd.Flags().Lookup("leader-elect")
	if f == nil || f.DefValue != "true" {
		t.Fatalf("--leader-elect default = %v, want true: two replicas without it hand out the same pool ports", f)
	}
	if err := cmd.Flags().Parse([]string{"--leader-elect=false"}); err != nil || f.Value.String() != "false" {
		t.Fatalf("--leader-elect=false: %v %v", f.Value, err)
	}
}
