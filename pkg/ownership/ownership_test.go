package ownership

import (
	"slices"
	"strings"
	"testing"
)

func TestTagsOrderAndDeduplication(t *testing.T) {
	got := Tags("c1", []string{"extra", "", ClusterTag("c1"), "extra"}, PodUIDTag("u1"), "")
	want := []string{"kuryr.openstack.org/cluster=c1", "kuryr.openstack.org/pod-uid=u1", "extra"}
	if !slices.Equal(got, want) {
		t.Errorf("Tags = %v, want %v", got, want)
	}
	if got := PoolPortTags("c1", []string{PoolTag}); !slices.Equal(got, []string{ClusterTag("c1"), PoolTag}) {
		t.Errorf("PoolPortTags = %v", got)
	}
}

func TestPodUIDTagIsKuryrKubernetesTag(t *testing.T) {
	// kuryr-kubernetes tagged pod ports this way; adoption of its ports depends on it.
	if got := PodUIDTag("u1"); got != "kuryr.openstack.org/pod-uid=u1" {
		t.Errorf("PodUIDTag = %q", got)
	}
}

func TestOwnerTagsPerKindDoNotMix(t *testing.T) {
	tags := []string{OwnerTag(KindLoadBalancer, "svc-1"), PodUIDTag("pod-1"), ClusterTag("c1")}
	for kind, want := range map[Kind]string{KindPod: "pod-1", KindLoadBalancer: "svc-1"} {
		if got, ok := OwnerFromTags(kind, tags); !ok || got != want {
			t.Errorf("OwnerFromTags(%s) = %q, %v; want %q", kind, got, ok, want)
		}
	}
	if _, ok := OwnerFromTags(KindNetworkPolicy, tags); ok {
		t.Error("a network policy owner found in tags that have none")
	}
	if c, ok := ClusterFromTags(tags); !ok || c != "c1" {
		t.Errorf("ClusterFromTags = %q, %v", c, ok)
	}
	if _, ok := PodUIDFromTags([]string{"kuryr.openstack.org/pod-uid="}); ok {
		t.Error("an empty UID counts as an owner")
	}
}

func TestMissing(t *testing.T) {
	if got := Missing([]string{"a", "c"}, []string{"a", "b", "c", "d"}); !slices.Equal(got, []string{"b", "d"}) {
		t.Errorf("Missing = %v", got)
	}
}

func TestTagsFitNeutronLimits(t *testing.T) {
	for _, tag := range Tags(strings.Repeat("x", 200), nil, PodUIDTag("11111111-2222-3333-4444-555555555555"), PoolTag) {
		if len(tag) > 255 || strings.Contains(tag, ",") {
			t.Errorf("tag %q breaks Neutron's limits", tag)
		}
	}
}
