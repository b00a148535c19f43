package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// CNIEvent is one completed CNI request as the node daemon reports it on /debug/cni.
type CNIEvent struct {
	Command string    `json:"command"`
	PodUID  string    `json:"podUid"`
	Pod     string    `json:"pod"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Result  string    `json:"result"`
}

// FetchCNIEvents returns when each pod's last successful CNI ADD returned, by pod UID.
func FetchCNIEvents(ctx context.Context, url string) (map[string]time.Time, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading CNI events from %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading CNI events from %s: HTTP %d", url, resp.StatusCode)
	}
	var events []CNIEvent
	if err := json.NewDecoder(resp.Body).Decode(&events); err != nil {
		return nil, fmt.Errorf("decoding CNI events: %w", err)
	}
	out := map[string]time.Time{}
	for _, e := range events {
		if e.Command == "ADD" && e.Result == "success" && e.PodUID != "" {
			out[e.PodUID] = e.End
		}
	}
	return out, nil
}
