package bench

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
	"github.com/kuryr-go/kuryr-go/pkg/ownership"
)

// burstLabels select the pods of one burst.
func burstLabels(opts BurstOptions) client.MatchingLabels {
	return client.MatchingLabels{"app": "kuryr-bench", "mode": opts.Mode}
}

// deletePods deletes all pods of the burst with one request.
func deletePods(ctx context.Context, c client.Client, opts BurstOptions, graceSeconds int64) error {
	if err := c.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(opts.Namespace), burstLabels(opts),
		client.GracePeriodSeconds(graceSeconds)); err != nil {
		return fmt.Errorf("deleting the burst's pods: %w", err)
	}
	return nil
}

// markGone records when the pod object name (of the given UID) was seen gone.
func (t *tracker) markGone(name, uid string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if own, ok := t.uids[name]; !ok || own != uid {
		return // not a pod of this burst
	}
	if _, ok := t.gone[name]; !ok {
		t.gone[name] = at
	}
}

// podsLeft returns how many pods of the burst have not been seen gone.
func (t *tracker) podsLeft() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.uids) - len(t.gone)
}

// uidSet returns the UIDs of the burst's pods, and the pod name of each.
func (t *tracker) uidSet() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]string, len(t.uids))
	for name, uid := range t.uids {
		out[uid] = name
	}
	return out
}

// portIDs returns the Neutron ports the burst's KuryrPorts recorded.
func (t *tracker) portIDs() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.ports))
	for id := range t.ports {
		out = append(out, id)
	}
	return out
}

// setGone writes into samples the time from start until each pod object was gone.
func (t *tracker) setGone(samples []PodSample, start time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range samples {
		if at, ok := t.gone[samples[i].Name]; ok {
			samples[i].Gone = at.Sub(start).Seconds()
		}
	}
}

// waitDeleted waits, after the delete request sent at start, until every pod object of the
// burst is gone (the time of each from the pod watch), every Neutron port it used is released
// (within opts.ReleaseTimeout) and its KuryrPorts are gone; it fills res's delete summary.
func waitDeleted(ctx context.Context, c client.Client, opts BurstOptions, tr *tracker, res *BurstResult, start time.Time) error {
	uids := tr.uidSet()
	rel := newPortRelease(uids)
	defer func() {
		tr.setGone(res.Samples, start)
		res.setPods(res.Samples)
		if opts.Neutron != nil {
			res.PortReleases = rel.times()
			res.setPorts(res.PortReleases, len(rel.held))
		}
	}()
	deadline, releaseBy := start.Add(opts.GoneTimeout), start.Add(opts.ReleaseTimeout)
	for tick := 1; ; tick++ {
		var lerr error
		if tick%4 == 0 && tr.podsLeft() > 0 {
			// The watch gives each pod's time; a re-established watch may have missed a
			// delete, which this list (every 2 s, one for all pods) catches.
			lerr = listGone(ctx, c, opts, tr, uids)
		}
		kpsLeft := 0
		if opts.Neutron != nil {
			rel.track(tr.portIDs()) // what the KuryrPort watch has seen by now
			var kerr error
			kpsLeft, kerr = rel.observe(ctx, c, opts, start)
			lerr = errors.Join(lerr, kerr)
		}
		podsLeft := tr.podsLeft()
		if lerr == nil && podsLeft == 0 && kpsLeft == 0 && len(rel.held) == 0 {
			return nil
		}
		now := time.Now()
		if opts.Neutron != nil && len(rel.held) > 0 && now.After(releaseBy) {
			return fmt.Errorf("%d of the burst's %d Neutron ports not released within %s: %v",
				len(rel.held), len(rel.held)+len(rel.released), opts.ReleaseTimeout, sortedKeys(rel.held))
		}
		if now.After(deadline) {
			return errors.Join(fmt.Errorf("after %s: %d pods and %d KuryrPorts of the burst are left",
				opts.GoneTimeout, podsLeft, kpsLeft), lerr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the burst's pods to be gone: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// listGone marks the burst's pods that a list no longer shows as gone now.
func listGone(ctx context.Context, c client.Client, opts BurstOptions, tr *tracker, uids map[string]string) error {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(opts.Namespace), burstLabels(opts)); err != nil {
		return fmt.Errorf("listing the burst's pods: %w", err)
	}
	at := time.Now()
	present := map[string]bool{}
	for i := range pods.Items {
		present[string(pods.Items[i].UID)] = true
	}
	for uid, name := range uids {
		if !present[uid] {
			tr.markGone(name, uid, at)
		}
	}
	return nil
}

// portRelease follows the Neutron ports a burst used until each is released.
type portRelease struct {
	uids     map[string]string  // the burst's pod UIDs
	held     map[string]bool    // ports of the burst not released yet
	released map[string]float64 // port ID -> seconds from the delete request
}

func newPortRelease(uids map[string]string) *portRelease {
	return &portRelease{uids: uids, held: map[string]bool{}, released: map[string]float64{}}
}

// track adds ports the burst used, unless they were released already.
func (r *portRelease) track(ids []string) {
	for _, id := range ids {
		if _, done := r.released[id]; !done {
			r.held[id] = true
		}
	}
}

// observe lists the KuryrPorts of the burst's namespace, then the cluster's pod ports, records
// the ports released by now and returns how many KuryrPorts are left. KuryrPorts first: a
// KuryrPort gone before the port listing started cannot make a port that the listing shows
// before its release look released.
func (r *portRelease) observe(ctx context.Context, c client.Client, opts BurstOptions, start time.Time) (int, error) {
	var kps apiv1.KuryrPortList
	if err := c.List(ctx, &kps, client.InNamespace(opts.Namespace)); err != nil {
		return -1, fmt.Errorf("listing the burst's KuryrPorts: %w", err)
	}
	ports, err := opts.Neutron.ListPorts(ctx, neutron.PortFilter{DeviceOwner: neutron.DeviceOwnerKuryr, ProjectID: opts.ProjectID})
	if err != nil {
		return len(kps.Items), fmt.Errorf("listing the burst's Neutron ports: %w", err)
	}
	referenced := map[string]bool{}
	for i := range kps.Items {
		for _, v := range kps.Items[i].Status.VIFs {
			referenced[v.VIF.ID] = true
		}
	}
	r.update(ports, referenced, time.Since(start).Seconds())
	return len(kps.Items), nil
}

// update takes one listing of the pod ports: ports carrying a pod UID of the burst are
// ports it used (even if no KuryrPort recorded them), and each port it used that is gone from
// the listing or released is recorded as released at the given time.
func (r *portRelease) update(ports []neutron.Port, referenced map[string]bool, at float64) {
	listed := map[string]*neutron.Port{}
	for i := range ports {
		p := &ports[i]
		listed[p.ID] = p
		tagUID, _ := ownership.PodUIDFromTags(p.Tags)
		if _, done := r.released[p.ID]; !done && (r.uids[p.DeviceID] != "" || r.uids[tagUID] != "") {
			r.held[p.ID] = true
		}
	}
	for id := range r.held {
		if p, ok := listed[id]; !ok || released(p, r.uids, referenced) {
			delete(r.held, id)
			r.released[id] = at
		}
	}
}

// released reports whether p, a port a burst used, is back in its pool: the pool tag, no
// pod's UID (tag or device_id) and no KuryrPort referencing it, which is what the pool's
// sync takes in as a pool port. A pod port that is not a pool port is released once gone.
func released(p *neutron.Port, uids map[string]string, referenced map[string]bool) bool {
	_, podTagged := ownership.PodUIDFromTags(p.Tags)
	return p.HasTag(ownership.PoolTag) && !podTagged && uids[p.DeviceID] == "" && !referenced[p.ID]
}

// times returns the release times, sorted.
func (r *portRelease) times() []float64 {
	out := make([]float64, 0, len(r.released))
	for _, t := range r.released {
		out = append(out, t)
	}
	sort.Float64s(out)
	return out
}
