package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/openstack/neutron"
)

// BurstOptions configures a pod burst.
type BurstOptions struct {
	Mode         string
	Pods         int
	Namespace    string
	Image        string
	NodeName     string // empty: let the scheduler place the pods
	Parallel     int    // concurrent create requests
	ReadyTimeout time.Duration
	// GoneTimeout bounds the wait for the pods and KuryrPorts to be gone after the delete,
	// ReleaseTimeout the wait for the burst's Neutron ports to be released.
	GoneTimeout, ReleaseTimeout time.Duration
	// Neutron, when set, is used to read the ports' created_at and to check that no port
	// of the burst is left behind. ProjectID narrows the listing.
	Neutron   neutron.Client
	ProjectID string
	// CNIEvents, when set, returns the daemon's CNI ADD times by pod UID.
	CNIEvents func(ctx context.Context) (map[string]CNIAdd, error)
}

// tracker records, per pod name, the first time each stage was seen, when the pod object
// was gone and the Neutron ports its KuryrPort recorded.
type tracker struct {
	mu      sync.Mutex
	created map[string]time.Time
	seen    map[string]map[string]time.Time
	uids    map[string]string
	gone    map[string]time.Time
	ports   map[string]bool
}

func newTracker() *tracker {
	return &tracker{created: map[string]time.Time{}, seen: map[string]map[string]time.Time{}, uids: map[string]string{},
		gone: map[string]time.Time{}, ports: map[string]bool{}}
}

func (t *tracker) mark(pod, stage string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.seen[pod]
	if m == nil {
		m = map[string]time.Time{}
		t.seen[pod] = m
	}
	if _, ok := m[stage]; !ok {
		m[stage] = at
	}
}

// createdAt is when the burst sent the pod's create request.
func (t *tracker) createdAt(pod string) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.created[pod].Add(-time.Second) // Neutron's created_at has second precision
}

func (t *tracker) count(stage string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, m := range t.seen {
		if _, ok := m[stage]; ok {
			n++
		}
	}
	return n
}

// RunBurst creates opts.Pods pods at once, waits until all are Ready, deletes them at once and
// waits until they and their KuryrPorts are gone and their Neutron ports released.
func RunBurst(ctx context.Context, log logr.Logger, c client.WithWatch, opts BurstOptions) (*BurstResult, error) {
	if opts.Parallel <= 0 {
		opts.Parallel = 10
	}
	if err := ensureNamespace(ctx, c, opts.Namespace); err != nil {
		return nil, err
	}
	// Interrupted or failed before its delete phase, the burst still deletes its pods (the
	// controller then releases their ports).
	deleting := false
	defer func() {
		if deleting {
			return
		}
		if err := deletePods(context.WithoutCancel(ctx), c, opts, 0); err != nil {
			log.Error(err, "Deleting the pods of an unfinished burst failed")
		}
	}()
	tr := newTracker()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); watchLoop(wctx, log, c, &corev1.PodList{}, opts.Namespace, tr.onPod) }()
	if opts.Neutron != nil { // kuryr-go runs: its KuryrPorts carry the VIF stages
		wg.Add(1)
		go func() {
			defer wg.Done()
			watchLoop(wctx, log, c, &apiv1.KuryrPortList{}, opts.Namespace, tr.onKuryrPort)
		}()
	}
	time.Sleep(500 * time.Millisecond) // let both watches start before the burst

	cpuBefore, cpuErr := takeCPUSnapshot()
	if cpuErr != nil {
		log.Error(cpuErr, "Reading the machine's CPU use failed; the burst goes on without it")
	}
	res := &BurstResult{Kind: "burst", Mode: opts.Mode, Pods: opts.Pods, Start: time.Now()}
	names := make(chan string)
	errs := make(chan error, opts.Pods)
	var cw sync.WaitGroup
	for i := 0; i < opts.Parallel; i++ {
		cw.Add(1)
		go func() {
			defer cw.Done()
			for name := range names {
				pod := benchPod(opts, name)
				tr.mu.Lock()
				tr.created[name] = time.Now()
				tr.mu.Unlock()
				if err := c.Create(ctx, pod); err != nil {
					errs <- fmt.Errorf("creating pod %s: %w", name, err)
					continue
				}
				tr.mu.Lock()
				tr.uids[name] = string(pod.UID)
				tr.mu.Unlock()
			}
		}()
	}
	for i := 0; i < opts.Pods; i++ {
		names <- fmt.Sprintf("bench-%s-%03d", opts.Mode, i)
	}
	close(names)
	cw.Wait()
	close(errs)
	for err := range errs {
		return nil, err
	}

	deadline := time.Now().Add(opts.ReadyTimeout)
	for tr.count(StageReady) < opts.Pods {
		if time.Now().After(deadline) {
			res.FailedPods = notReady(tr)
			log.Info("Pods not Ready in time", "ready", tr.count(StageReady), "pods", opts.Pods, "timeout", opts.ReadyTimeout)
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if cpuBefore != nil {
		if cpuAfter, err := takeCPUSnapshot(); err == nil {
			res.CPU = cpuUse(cpuBefore, cpuAfter)
		}
	}
	res.AllReady = lastStage(tr, StageReady, res.Start)
	if res.AllReady > 0 {
		res.PodsPerSecond = float64(tr.count(StageReady)) / res.AllReady
	}
	if opts.CNIEvents != nil {
		if ev, err := opts.CNIEvents(ctx); err != nil {
			log.Error(err, "Reading CNI ADD times from the daemon failed")
		} else {
			for name, uid := range tr.uids {
				if add, ok := ev[uid]; ok {
					tr.mark(name, StageCNICalled, add.Called)
					tr.mark(name, StageCNIAdded, add.Returned)
				}
			}
		}
	}
	if opts.Neutron != nil {
		markPortCreated(ctx, log, opts, tr)
	}
	res.Samples = samples(tr)
	res.Summary = summarizeStages(res.Samples)

	// All pods at once, the same way in every mode; until this request succeeded, the
	// clean-up above still runs.
	start := time.Now()
	if err := deletePods(ctx, c, opts, DeleteGraceSeconds); err != nil {
		return res, err
	}
	deleting = true
	if err := waitDeleted(ctx, c, opts, tr, res, start); err != nil {
		return res, err
	}
	if len(res.FailedPods) > 0 {
		return res, fmt.Errorf("%d of %d pods not Ready within %s", len(res.FailedPods), opts.Pods, opts.ReadyTimeout)
	}
	return res, nil
}

func (t *tracker) onPod(ev watch.EventType, obj runtime.Object, at time.Time) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if ev == watch.Deleted {
		t.markGone(p.Name, string(p.UID), at)
		return
	}
	if p.Spec.NodeName != "" {
		t.mark(p.Name, StageScheduled, at)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			t.mark(p.Name, StageReady, at)
		}
	}
}

func (t *tracker) onKuryrPort(ev watch.EventType, obj runtime.Object, at time.Time) {
	kp, ok := obj.(*apiv1.KuryrPort)
	if !ok || ev == watch.Deleted {
		return
	}
	for _, v := range kp.Status.VIFs {
		t.mark(kp.Name, StageVIFRecorded, at)
		if v.VIF.ID != "" {
			t.mu.Lock()
			t.ports[v.VIF.ID] = true
			t.mu.Unlock()
		}
		if v.VIF.Active {
			t.mark(kp.Name, StagePortActive, at)
		}
	}
}

// watchLoop watches list's kind in ns and calls fn with each added, modified or deleted
// object and the time it arrived, re-establishing the watch until ctx ends.
func watchLoop(ctx context.Context, log logr.Logger, c client.WithWatch, list client.ObjectList, ns string,
	fn func(watch.EventType, runtime.Object, time.Time)) {
	for ctx.Err() == nil {
		w, err := c.Watch(ctx, list, client.InNamespace(ns))
		if err != nil {
			log.Error(err, "Watch failed, retrying")
			time.Sleep(time.Second)
			continue
		}
		for ev := range w.ResultChan() {
			switch ev.Type {
			case watch.Added, watch.Modified, watch.Deleted:
				fn(ev.Type, ev.Object, time.Now())
			}
		}
		w.Stop()
	}
}

func benchPod(opts BurstOptions, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: opts.Namespace, Labels: burstLabels(opts)},
		Spec: corev1.PodSpec{
			NodeName:                      opts.NodeName,
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			AutomountServiceAccountToken:  ptr.To(false),
			Containers: []corev1.Container{{
				Name: "main", Image: opts.Image, ImagePullPolicy: corev1.PullNever,
				Command: []string{"sleep", "3600"},
			}},
		},
	}
}

func ensureNamespace(ctx context.Context, c client.Client, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	// a new namespace needs its default service account before pods can be created
	for i := 0; i < 100; i++ {
		sa := &corev1.ServiceAccount{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: name, Name: "default"}, sa); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("namespace %s has no default service account (is kube-controller-manager running?)", name)
}

func notReady(tr *tracker) []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []string
	for name := range tr.created {
		if _, ok := tr.seen[name][StageReady]; !ok {
			out = append(out, name)
		}
	}
	return out
}

func lastStage(tr *tracker, stage string, start time.Time) float64 {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var last time.Time
	for _, m := range tr.seen {
		if at, ok := m[stage]; ok && at.After(last) {
			last = at
		}
	}
	if last.IsZero() {
		return 0
	}
	return last.Sub(start).Seconds()
}

func samples(tr *tracker) []PodSample {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make([]PodSample, 0, len(tr.created))
	for name, created := range tr.created {
		s := PodSample{Name: name, UID: tr.uids[name], Created: created, Stages: map[string]float64{}}
		for st, at := range tr.seen[name] {
			s.Stages[st] = at.Sub(created).Seconds()
		}
		out = append(out, s)
	}
	return out
}

func markPortCreated(ctx context.Context, log logr.Logger, opts BurstOptions, tr *tracker) {
	ports, err := opts.Neutron.ListPorts(ctx, neutron.PortFilter{DeviceOwner: neutron.DeviceOwnerKuryr, ProjectID: opts.ProjectID})
	if err != nil {
		log.Error(err, "Listing ports for their creation times failed")
		return
	}
	byUID := map[string]time.Time{}
	for _, p := range ports {
		byUID[p.DeviceID] = p.CreatedAt
	}
	for name, uid := range tr.uids {
		// A pooled port was created before its pod: that stage does not apply to it.
		if at, ok := byUID[uid]; ok && !at.IsZero() && !at.Before(tr.createdAt(name)) {
			tr.mark(name, StagePortCreated, at)
		}
	}
}
