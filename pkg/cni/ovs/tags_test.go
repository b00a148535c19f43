package ovs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
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

// slowRunner answers every listing with tagListing after a delay, counting the listings.
type slowRunner struct {
	delay    time.Duration
	listings atomic.Int32
}

func (r *slowRunner) Run(context.Context, string, ...string) ([]byte, error) {
	r.listings.Add(1)
	time.Sleep(r.delay)
	return []byte(tagListing), nil
}

// New ports asked about while a listing runs share the next listing instead of each forcing
// one of their own, one after the other.
func TestTagSnapshotCoalescesConcurrentNewPorts(t *testing.T) {
	r := &slowRunner{delay: 50 * time.Millisecond}
	s := &TagSnapshot{Client: &Client{Runner: r, Binary: "ovs-vsctl"}, MaxAge: time.Hour}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i > 0 {
				time.Sleep(time.Duration(i) * time.Millisecond) // all during the first listing
			}
			if _, _, err := s.PortTag(ctx, fmt.Sprintf("tapnew%02d", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := r.listings.Load(); n > 2 {
		t.Fatalf("%d listings for 20 ports asked about during one listing, want at most 2", n)
	}
	// A port asked about after the last listing started still gets a listing of its own.
	before := r.listings.Load()
	if _, ok, err := s.PortTag(ctx, "tapaaaaaaaaaaa"); err != nil || !ok {
		t.Fatalf("PortTag = %v %v", ok, err)
	}
	if r.listings.Load() != before+1 {
		t.Fatal("a new question after the listing was answered from it")
	}
}
