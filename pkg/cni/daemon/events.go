package daemon

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Event is one completed CNI request, kept for /debug/cni (benchmarks and troubleshooting).
type Event struct {
	Command     string    `json:"command"`
	Pod         string    `json:"pod,omitempty"`
	PodUID      string    `json:"podUid,omitempty"`
	ContainerID string    `json:"containerId,omitempty"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Result      string    `json:"result"`
}

// Events is a bounded ring of the most recent CNI requests.
type Events struct {
	mu   sync.Mutex
	buf  []Event
	next int
	full bool
}

// NewEvents keeps the last size requests.
func NewEvents(size int) *Events { return &Events{buf: make([]Event, max(size, 1))} }

// Add records e, dropping the oldest event when full.
func (e *Events) Add(ev Event) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf[e.next] = ev
	e.next = (e.next + 1) % len(e.buf)
	if e.next == 0 {
		e.full = true
	}
}

// List returns the recorded events, oldest first.
func (e *Events) List() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.full {
		return append([]Event(nil), e.buf[:e.next]...)
	}
	return append(append([]Event(nil), e.buf[e.next:]...), e.buf[:e.next]...)
}

// ServeHTTP writes the events as JSON.
func (e *Events) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(e.List())
}
