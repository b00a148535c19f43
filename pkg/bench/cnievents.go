package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kuryr-go/kuryr-go/pkg/cni/daemon"
)

// CNIAdd is when the runtime called a pod's CNI ADD and when the daemon returned it.
type CNIAdd struct{ Called, Returned time.Time }

// FetchCNIEvents returns each pod's last successful CNI ADD, by pod UID.
func FetchCNIEvents(ctx context.Context, url string) (map[string]CNIAdd, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
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

// ReadCNITimes reads the ADD times a timing wrapper around another CNI plugin appended to
// path, one line per call: "<called> <returned> <exit code> <CNI_ARGS>" with Unix times in
// seconds. Only successful calls count; the result is keyed by K8S_POD_UID.
func ReadCNITimes(path string) (map[string]CNIAdd, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading CNI times: %w", err)
	}
	out := map[string]CNIAdd{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[2] != "0" {
			continue
		}
		called, err1 := strconv.ParseFloat(f[0], 64)
		returned, err2 := strconv.ParseFloat(f[1], 64)
		if err1 != nil || err2 != nil {
			continue
		}
		for _, kv := range strings.Split(f[3], ";") {
			if uid, ok := strings.CutPrefix(kv, "K8S_POD_UID="); ok && uid != "" {
				out[uid] = CNIAdd{Called: unixFloat(called), Returned: unixFloat(returned)}
			}
		}
	}
	return out, nil
}

func unixFloat(s float64) time.Time {
	sec := int64(s)
	return time.Unix(sec, int64((s-float64(sec))*1e9))
}
