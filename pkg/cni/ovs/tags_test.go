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
	// a port plugged just now needs a listing started after its plug
	if tag, ok, err := s.PortTag(ctx, "tapaaaaaaaaaaa", time.Now()); err != nil || !ok || tag != 3 {
		t.Fatalf("PortTag(a) = %d %v %v", tag, ok, err)
	}
	plugged := time.Now()
	if _, ok, _ := s.PortTag(ctx, "tapbbbbbbbbbbb", plugged); ok {
		t.Fatal("an empty tag is not a tag")
	}
	calls := len(r.calls)
	for i := 0; i < 50; i++ { // waiters polling again share the snapshot
		if _, ok, _ := s.PortTag(ctx, "tapbbbbbbbbbbb", plugged); ok {
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

// slowRunner answers every listing with its current output after a delay, counting the
// listings.
type slowRunner struct {
	delay    time.Duration
	listings atomic.Int32
	mu       sync.Mutex
	out      string
}

func (r *slowRunner) Run(context.Context, string, ...string) ([]byte, error) {
	r.listings.Add(1)
	time.Sleep(r.delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	return []byte(r.out), nil
}

func (r *slowRunner) set(out string) {
	r.mu.Lock()
	r.out = out
	r.mu.Unlock()
}

// Ports plugged while a listing runs share the next listing instead of each forcing one of
// their own, one after the other, also when a listing takes longer than MaxAge.
func TestTagSnapshotCoalescesConcurrentNewPorts(t *testing.T) {
	for _, maxAge := range []time.Duration{time.Hour, 10 * time.Millisecond} {
		r := &slowRunner{delay: 50 * time.Millisecond, out: tagListing}
		s := &TagSnapshot{Client: &Client{Runner: r, Binary: "ovs-vsctl"}, MaxAge: maxAge}
		ctx := context.Background()
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(i) * time.Millisecond) // all during the first listing
				if _, _, err := s.PortTag(ctx, fmt.Sprintf("tapnew%02d", i), time.Now()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := r.listings.Load(); n > 2 {
			t.Fatalf("MaxAge %v: %d listings for 20 ports plugged during one listing, want at most 2", maxAge, n)
		}
	}
}

// A port re-plugged under the same name is never answered from a listing that started
// before its plug, even if an earlier wait for the same name saw it tagged.
func TestTagSnapshotReplugNotAnsweredFromOlderListing(t *testing.T) {
	r := &slowRunner{out: tagListing}
	s := &TagSnapshot{Client: &Client{Runner: r, Binary: "ovs-vsctl"}, MaxAge: time.Hour}
	ctx := context.Background()
	if _, ok, _ := s.PortTag(ctx, "tapaaaaaaaaaaa", time.Now()); !ok {
		t.Fatal("first incarnation not tagged")
	}
	// unplugged and plugged again: the agent has not processed the new port yet
	r.set(`{"data":[["tapaaaaaaaaaaa",["set",[]]]],"headings":["name","tag"]}`)
	if _, ok, _ := s.PortTag(ctx, "tapaaaaaaaaaaa", time.Now()); ok {
		t.Fatal("re-plugged port reported wired from the listing of its previous incarnation")
	}
}
