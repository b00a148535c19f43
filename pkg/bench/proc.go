package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// ProcessUsage reads the CPU seconds used so far and the peak RSS (VmHWM) of pid.
func ProcessUsage(name string, pid int) (Process, error) {
	p := Process{Name: name, PID: pid}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, fmt.Errorf("reading the usage of %s: %w", name, err)
	}
	// fields after the command name, which is in parentheses and may contain spaces
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return p, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	p.CPUSeconds = (utime + stime) / clockTicks
	status, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, err
	}
	defer status.Close()
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			p.PeakRSSMiB = kb / 1024
		}
	}
	return p, sc.Err()
}

// PIDFromFile reads a pid file.
func PIDFromFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// ScrapeCounter sums the samples of a Prometheus counter by the given label values, from a
// text-format /metrics endpoint: key "operation/result" for kuryr_openstack_api_calls_total.
func ScrapeCounter(ctx context.Context, url, metric string, labels ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		if end < 0 {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			continue
		}
		kv := map[string]string{}
		for _, pair := range strings.Split(line[len(metric)+1:end], ",") {
			if k, val, ok := strings.Cut(pair, "="); ok {
				kv[k] = strings.Trim(val, `"`)
			}
		}
		parts := make([]string, 0, len(labels))
		for _, l := range labels {
			parts = append(parts, kv[l])
		}
		out[strings.Join(parts, "/")] += v
	}
	return out, nil
}

// Diff returns after-before for every key of after.
func Diff(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}
