package kuryrctl

import (
	"slices"
	"testing"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

// A port a pod has just taken from a pool still carries the pool tag until the controller
// renames it; its KuryrPort records it already. drain must leave it and count it.
func TestDrainSkipsPortsRecordedInKuryrPorts(t *testing.T) {
	const cluster = "c1"
	free := func(id, node string) neutron.Port {
		return neutron.Port{ID: id, HostID: node, DeviceOwner: neutron.DeviceOwnerKuryr,
			Tags: ownership.PoolPortTags(cluster, nil)}
	}
	ports := []neutron.Port{
		free("free-1", "node-1"),
		free("taken-1", "node-1"), // a pod took it; its rename is still deferred
		free("free-2", "node-2"),
		free("taken-2", "node-2"),
		{ID: "unbound", DeviceOwner: neutron.DeviceOwnerKuryr, Tags: ownership.PoolPortTags(cluster, nil)},
	}
	kp := func(ids ...string) apiv1.KuryrPort {
		var k apiv1.KuryrPort
		k.Status.VIFs = map[string]apiv1.VIFStatus{}
		for i, id := range ids {
			k.Status.VIFs["eth"+string(rune('0'+i))] = apiv1.VIFStatus{VIF: apiv1.VIF{ID: id}}
		}
		return k
	}
	kps := []apiv1.KuryrPort{kp("taken-1"), kp("bound-elsewhere", "taken-2")}
	for _, tc := range []struct {
		node        string
		anyStatus   bool
		want        []string
		wantSkipped int
	}{
		{"", false, []string{"free-1", "free-2"}, 2},
		{"node-1", false, []string{"free-1"}, 1},
		{"", true, []string{"free-1", "free-2", "unbound"}, 2},
	} {
		doomed, skipped := drainSelection(ports, kps, cluster, tc.node, tc.anyStatus)
		var got []string
		for _, p := range doomed {
			got = append(got, p.ID)
		}
		if !slices.Equal(got, tc.want) || skipped != tc.wantSkipped {
			t.Errorf("node %q, any status %v: deletes %v, skips %d; want %v, %d",
				tc.node, tc.anyStatus, got, skipped, tc.want, tc.wantSkipped)
		}
	}
}
