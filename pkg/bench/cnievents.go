package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/kuryr-go/kuryr-go/pkg/cni/daemon"
)

// CNIAdd is when the runtime called a pod's CNI ADD and when the daemon returned it.
type CNIAdd struct{ Called, Returned time.Time }

// FetchCNIEvents returns each pod's last successful CNI ADD, by pod UID.
func FetchCNIEvents(ctx context.Context, url string) (map[string]CNIAdd, error) {
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
	var events []daemon.Event // what the daemon serves on /debug/cni
	if err := json.NewDecoder(resp.Body).Decode(&events); err != nil {
		return nil, fmt.Errorf("decoding CNI events: %w", err)
	}
	out := map[string]CNIAdd{}
	for _, e := range events {
		if e.Command == "ADD" && e.Result == "success" && e.PodUID != "" {
			out[e.PodUID] = CNIAdd{Called: e.Start, Returned: e.End}
		}
	}
	return out, nil
}
