//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

// pinger pings an address every 200 ms from a testbed VM's namespace and records when
// each reply arrived.
type pinger struct {
	cmd     *exec.Cmd
	done    chan struct{}
	mu      sync.Mutex
	replies []time.Time
}

// replyRe matches a reply line of `ping -D`: [epoch.micros] 64 bytes from ...: icmp_seq=N ttl=...
var replyRe = regexp.MustCompile(`^\[(\d+)\.(\d+)\] .*icmp_seq=\d+ ttl=`)

// startPinger starts pinging ip from the namespace of VM vm until the end of the test.
func startPinger(t *testing.T, vm, ip string) *pinger {
	t.Helper()
	p := &pinger{done: make(chan struct{})}
	p.cmd = exec.Command("nsenter", "--net=/run/netns/tbvm-"+vm, "ping", "-D", "-n", "-i", "0.2", ip)
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m := replyRe.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			sec, _ := strconv.ParseInt(m[1], 10, 64)
			usec, _ := strconv.ParseInt(m[2], 10, 64)
			p.mu.Lock()
			p.replies = append(p.replies, time.Unix(sec, usec*1000))
			p.mu.Unlock()
		}
	}()
	t.Cleanup(p.stop)
	return p
}

// stop ends the pings; the replies recorded so far stay.
func (p *pinger) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	<-p.done
	_ = p.cmd.Wait()
}

// waitAnswering waits until the last second brought at least four replies.
func (p *pinger) waitAnswering(t *testing.T, timeout time.Duration) {
	t.Helper()
	for start := time.Now(); p.count(time.Now().Add(-time.Second)) < 4; time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > timeout {
			t.Fatalf("pings not answered within %v (%d replies)", timeout, p.count(time.Time{}))
		}
	}
}

// count returns the number of replies since from.
func (p *pinger) count(from time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.replies {
		if !r.Before(from) {
			n++
		}
	}
	return n
}

// answeredUntil returns the last reply before replies stopped for longer than gap, counting
// from `from` (the last reply before from when none came within gap of it).
func (p *pinger) answeredUntil(from time.Time, gap time.Duration) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var until time.Time
	prev := from
	for _, r := range p.replies {
		switch {
		case r.Before(from):
			until = r
		case r.Sub(prev) > gap:
			return until
		default:
			until, prev = r, r
		}
	}
	return until
}

// longestGap returns the longest time without a reply between from and to.
func (p *pinger) longestGap(from, to time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var longest time.Duration
	prev := from
	for _, r := range p.replies {
		if r.After(from) && r.Before(to) {
			longest, prev = max(longest, r.Sub(prev)), r
		}
	}
	return max(longest, to.Sub(prev))
}

// TestTerminatingPodKeepsItsNetwork: a deleted pod whose preStop hook runs for 20 s keeps its
// port, and answers a VM's pings, while its container runs; once it has stopped, the pod
// object goes and the port is released.
func TestTerminatingPodKeepsItsNetwork(t *testing.T) {
	requireTestbed(t)
	kc := kubeClient(t)
	n := newNeutron()
	ctx := context.Background()
	name := fmt.Sprintf("kuryr-e2e-term-%d", time.Now().UnixNano()%100000)
	grace := int64(30)
	pod := createPod(t, kc, "default", name, func(p *corev1.Pod) {
		p.Spec.TerminationGracePeriodSeconds = &grace
		c := &p.Spec.Containers[0]
		c.Command = []string{"sh", "-c", `trap "exit 0" TERM; sleep 3600 & wait`}
		c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
			Exec: &corev1.ExecAction{Command: []string{"sleep", "20"}},
		}}
	})
	portID := defaultVIF(t, getKuryrPort(t, kc, "default", name)).ID
	vm := name + "-vm"
	bootVM(t, vm, "")
	p := startPinger(t, vm, pod.Status.PodIP)
	p.waitAnswering(t, 30*time.Second)

	start := time.Now()
	if err := kc.Delete(ctx, pod, client.GracePeriodSeconds(grace)); err != nil {
		t.Fatal(err)
	}
	var podGone, portGone time.Duration
	for podGone == 0 || portGone == 0 {
		since := time.Since(start)
		if err := kc.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{}); podGone == 0 && apierrors.IsNotFound(err) {
			podGone = since
		}
		if _, code, _ := n.getPort(portID); portGone == 0 && code == http.StatusNotFound {
			portGone = since
		}
		if (podGone == 0 && since > 60*time.Second) || (podGone > 0 && since > podGone+60*time.Second) {
			t.Fatalf("%v after the delete call: pod gone after %v, port %s gone after %v", since, podGone, portID, portGone)
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.stop()
	answered := p.answeredUntil(start, time.Second).Sub(start)
	t.Logf("after the delete call (grace %ds, preStop sleep 20): pod answered for %v (longest gap in the first 15s %v), port released after %v, pod object gone after %v",
		grace, answered.Round(time.Millisecond), p.longestGap(start, start.Add(15*time.Second)).Round(time.Millisecond),
		portGone.Round(time.Millisecond), podGone.Round(time.Millisecond))
	if answered < 15*time.Second {
		t.Errorf("the terminating pod stopped answering %v after the delete call, want at least 15s (its preStop hook runs for 20s)", answered.Round(time.Millisecond))
	}
	if portGone < 15*time.Second {
		t.Errorf("port %s released %v after the delete call, while the pod's container still ran", portID, portGone.Round(time.Millisecond))
	}
}

// TestDeletedKuryrPortKeepsRunningPodConnected: deleting the KuryrPort of a running pod
// neither takes its port nor interrupts its traffic; a new KuryrPort records the same port
// (Event PortKept), and the port is released once the pod is deleted.
func TestDeletedKuryrPortKeepsRunningPodConnected(t *testing.T) {
	requireTestbed(t)
	kc := kubeClient(t)
	n := newNeutron()
	ctx := context.Background()
	name := fmt.Sprintf("kuryr-e2e-kpdel-%d", time.Now().UnixNano()%100000)
	pod := createPod(t, kc, "default", name)
	old := getKuryrPort(t, kc, "default", name)
	portID := defaultVIF(t, old).ID
	vm := name + "-vm"
	bootVM(t, vm, "")
	p := startPinger(t, vm, pod.Status.PodIP)
	p.waitAnswering(t, 30*time.Second)

	start := time.Now()
	if out, err := kubectl(t, "delete", "kp", "-n", "default", name, "--timeout=30s"); err != nil {
		t.Fatalf("kubectl delete kp: %v\n%s", err, out)
	}
	deleted := time.Since(start)
	var recorded time.Duration
	for recorded == 0 {
		kp := &apiv1.KuryrPort{}
		err := kc.Get(ctx, client.ObjectKeyFromObject(old), kp)
		if err == nil && kp.UID != old.UID && len(kp.Status.VIFs) > 0 {
			if id := defaultVIF(t, kp).ID; id != portID {
				t.Fatalf("the new KuryrPort records port %s, want the pod's port %s", id, portID)
			}
			recorded = time.Since(start)
		} else if time.Since(start) > 30*time.Second {
			t.Fatalf("no new KuryrPort recording port %s 30s after the deletion (get: %v, UID %s)", portID, err, kp.UID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if np, code, err := n.getPort(portID); err != nil || np.Status != "ACTIVE" {
		t.Fatalf("port %s after the KuryrPort's deletion: HTTP %d, status %q, %v", portID, code, np.Status, err)
	}
	var events corev1.EventList
	if err := kc.List(ctx, &events, client.InNamespace("default"), client.MatchingFields{
		"involvedObject.uid": string(pod.UID), "reason": apiv1.ReasonPortKept,
	}); err != nil || len(events.Items) == 0 {
		t.Errorf("no %s Event on pod %s (%v)", apiv1.ReasonPortKept, name, err)
	}
	time.Sleep(3 * time.Second) // traffic goes on once the port is recorded again
	end := time.Now()
	p.stop()
	gap := p.longestGap(start, end)
	t.Logf("KuryrPort deleted in %v, port %s recorded again after %v; %d pings answered in %v, longest gap %v",
		deleted.Round(time.Millisecond), portID, recorded.Round(time.Millisecond),
		p.count(start), end.Sub(start).Round(time.Millisecond), gap.Round(time.Millisecond))
	if gap > time.Second {
		t.Errorf("pings to the pod went unanswered for %v after the KuryrPort's deletion", gap.Round(time.Millisecond))
	}

	deletePod(t, kc, pod)
	t.Logf("pod deleted: port %s released %v after the pod object went", portID, n.waitPortStatus(t, portID, "", 60*time.Second).Round(time.Millisecond))
}
