//go:build integration

package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kuryr-go/kuryr-go/pkg/kuryrctl"
	"github.com/kuryr-go/kuryr-go/pkg/openstack"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

// kuryrctl gc lists the cluster's orphaned ports, and deletes them only with --yes.
func TestKuryrctlGC(t *testing.T) {
	tb := LoadTestbed(t)
	osc := tb.Neutron(t)
	tb.Kube(t) // installs the CRDs gc reads
	ctx := context.Background()
	clusterID := fmt.Sprintf("kuryr-it-gc-%d", time.Now().UnixNano()%1000000)

	// This test's own kuryr.conf: the testbed's with its own cluster ID.
	base, err := os.ReadFile(tb.Get("KURYR_CONF"))
	if err != nil {
		t.Fatal(err)
	}
	conf := regexp.MustCompile(`(?m)^cluster_id = .*$`).ReplaceAllString(string(base), "cluster_id = "+clusterID)
	confPath := filepath.Join(t.TempDir(), "kuryr.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	sn, err := osc.GetSubnet(ctx, tb.Get("POD_SUBNET_ID"))
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := osc.CreatePort(ctx, neutron.PortCreateOpts{
		Name: "it-gc-orphan", NetworkID: sn.NetworkID, ProjectID: tb.Get("K8S_PROJECT_ID"), SubnetIDs: []string{sn.ID},
		DeviceOwner: neutron.DeviceOwnerKuryr, DeviceID: "uid-of-no-pod",
		Tags: []string{ownership.ClusterTag(clusterID), ownership.PodUIDTag("uid-of-no-pod")},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = osc.DeletePort(context.Background(), orphan.ID) })

	gc := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		root := kuryrctl.NewRoot()
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"--config", confPath, "gc", "--grace", "0s"}, args...))
		if err := root.ExecuteContext(ctx); err != nil {
			t.Fatalf("kuryrctl gc %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	out := gc()
	if !strings.Contains(out, orphan.ID) || !strings.Contains(out, "would delete 1") {
		t.Fatalf("dry run output:\n%s", out)
	}
	if _, err := osc.GetPort(ctx, orphan.ID); err != nil {
		t.Fatalf("dry run deleted the port: %v", err)
	}
	out = gc("--yes")
	if !strings.Contains(out, "deleted 1") {
		t.Fatalf("gc --yes output:\n%s", out)
	}
	if _, err := osc.GetPort(ctx, orphan.ID); !openstack.IsNotFound(err) {
		t.Fatalf("port %s after gc --yes: %v", orphan.ID, err)
	}
	t.Logf("gc output:\n%s", out)
}
