package ovs

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// PortTags returns the local VLAN tag of every OVS port that has one, in one ovs-vsctl call.
func (c *Client) PortTags(ctx context.Context) (map[string]int, error) {
	out, err := c.vsctl(ctx, "--format=json", "--columns=name,tag", "list", "Port")
	if err != nil {
		return nil, fmt.Errorf("listing port tags: %w", err)
	}
	return parseTags(out)
}

func parseTags(out string) (map[string]int, error) {
	tags := map[string]int{}
	if out == "" {
		return tags, nil
	}
	var t table
	if err := json.Unmarshal([]byte(out), &t); err != nil {
		return nil, fmt.Errorf("decoding ovs-vsctl output: %w", err)
	}
	nameCol, tagCol := -1, -1
	for i, h := range t.Headings {
		switch h {
		case "name":
			nameCol = i
		case "tag":
			tagCol = i
		}
	}
	if nameCol < 0 || tagCol < 0 {
		return nil, fmt.Errorf("decoding ovs-vsctl output: missing columns in %v", t.Headings)
	}
	for _, row := range t.Data {
		if len(row) <= max(nameCol, tagCol) {
			return nil, fmt.Errorf("decoding ovs-vsctl output: short row")
		}
		var name string
		if err := json.Unmarshal(row[nameCol], &name); err != nil {
			return nil, fmt.Errorf("decoding port name: %w", err)
		}
		var tag int
		if err := json.Unmarshal(row[tagCol], &tag); err == nil { // an empty tag is ["set",[]]
			tags[name] = tag
		}
	}
	return tags, nil
}

// TagSnapshot answers PortTag from one shared listing of all port tags, refreshed at most
// every MaxAge: however many pods wait for their ports to be wired, the node runs at most
// one ovs-vsctl per MaxAge for them. An answer always comes from a listing that started after
// the caller's since (the time its port was plugged), so a port that was just re-plugged
// under the same name is never reported with the tag of its previous incarnation. Callers
// that ask while a listing runs share the next one: a burst of new ports costs two listings,
// not one each.
type TagSnapshot struct {
	Client *Client
	MaxAge time.Duration

	mu      sync.Mutex
	started time.Time // when the current listing started
	done    time.Time // when it ended: its age counts from there
	tags    map[string]int
	err     error
}

// PortTag returns port's tag from a listing that started after since and ended less than
// MaxAge ago.
func (s *TagSnapshot) PortTag(ctx context.Context, port string, since time.Time) (int, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tags == nil || s.started.Before(since) || time.Since(s.done) >= s.MaxAge {
		s.started = time.Now()
		s.tags, s.err = s.Client.PortTags(ctx)
		s.done = time.Now()
	}
	if s.err != nil {
		return 0, false, s.err
	}
	tag, ok := s.tags[port]
	return tag, ok, nil
}
