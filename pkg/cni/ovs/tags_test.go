package ovs

import (
	"context"
	"testing"
	"time"
)

const tagListing = `{"data":[["tapaaaaaaaaaaa",3],["tapbbbbbbbbbbb",["set",[]]],["patch-tun",["set",[]]]],"headings":["name","tag"]}`

func TestPortTagsParsesSetAndEmptyTags(t *testing.T) {
	tags, err := parseTags(tagListing)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 1 || tags["tapaaaaaaaaaaa"] != 3 {
		t.Fatalf("tags = %v, want only tapaaaaaaaaaaa=3", tags)
	}
}

func TestTagSnapshotSharesOneListing(t *testing.T) {
	r := &fakeRunner{answers: map[string]fakeAnswer{"list Port": {out: tagListing}}}
	s := &TagSnapshot{Client: &Client{Runner: r, Binary: "ovs-vsctl"}, MaxAge: time.Hour}
	ctx := context.Background()
	// the first question about each port forces a fresh listing (it may just have been plugged)
	if tag, ok, err := s.PortTag(ctx, "tapaaaaaaaaaaa"); err != nil || !ok || tag != 3 {
		t.Fatalf("PortTag(a) = %d %v %v", tag, ok, err)
	}
	if _, ok, _ := s.PortTag(ctx, "tapbbbbbbbbbbb"); ok {
		t.Fatal("an empty tag is not a tag")
	}
	calls := len(r.calls)
	for i := 0; i < 50; i++ { // waiters polling again share the snapshot
		if _, ok, _ := s.PortTag(ctx, "tapbbbbbbbbbbb"); ok {
			t.Fatal("tag appeared from nowhere")
		}
	}
	if len(r.calls) != calls {
		t.Fatalf("%d more ovs-vsctl calls for repeated questions within MaxAge, want 0", len(r.calls)-calls)
	}
	if calls != 2 {
		t.Fatalf("%d listings for two new ports, want 2", calls)
	}
}
