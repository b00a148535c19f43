package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CPUUse is where the machine's CPU went during a burst: the busy seconds of all cores, and
// the part of them each group of processes used.
type CPUUse struct {
	// Seconds is the length of the window.
	Seconds float64 `json:"seconds"`
	// Busy is the CPU time of all cores that was not idle (from /proc/stat).
	Busy float64 `json:"busySeconds"`
	// Groups is CPU seconds per process group (see groupOf); "other" is Busy minus the rest.
	Groups map[string]float64 `json:"groups"`
}

// Cores is the average number of busy cores over the window.
func (u *CPUUse) Cores() float64 {
	if u == nil || u.Seconds <= 0 {
		return 0
	}
	return u.Busy / u.Seconds
}

// Sorted returns the groups, largest first.
func (u *CPUUse) Sorted() []GroupCPU {
	out := make([]GroupCPU, 0, len(u.Groups))
	for g, s := range u.Groups {
		out = append(out, GroupCPU{g, s})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seconds != out[j].Seconds {
			return out[i].Seconds > out[j].Seconds
		}
		return out[i].Group < out[j].Group
	})
	return out
}

// GroupCPU is one group's CPU seconds.
type GroupCPU struct {
	Group   string
	Seconds float64
}

// Process groups of the testbed.
const (
	GroupKuryr         = "kuryr-go"
	GroupNeutronAPI    = "neutron-server API"
	GroupNeutronRPC    = "neutron-server RPC"
	GroupNeutronAgents = "neutron agents"
	GroupPostgres      = "postgresql"
	GroupRabbit        = "rabbitmq"
	GroupOVS           = "open vswitch"
	GroupKube          = "kubernetes"
	GroupRuntime       = "containerd and pods"
	GroupOctavia       = "octavia"
	GroupBench         = "benchmark"
	GroupOther         = "other"
)

// groupOf maps a process (its comm and command line) to its group.
func groupOf(comm string, args []string) string {
	if len(args) == 1 && strings.Contains(args[0], " ") { // a process title: one string
		args = strings.Fields(args[0])
	}
	exe := ""
	if len(args) > 0 {
		exe = filepath.Base(args[0])
	}
	// Python services show as python3 SCRIPT, or under a process title.
	if strings.HasPrefix(exe, "python") && len(args) > 1 {
		exe = filepath.Base(args[1])
	}
	line := strings.Join(args, " ")
	switch {
	case strings.HasPrefix(exe, "kuryr-"), comm == "kuryr-cni":
		return GroupKuryr
	case strings.HasPrefix(line, "neutron-server:"): // rpc, periodic and state report workers
		return GroupNeutronRPC
	case exe == "neutron-server":
		return GroupNeutronAPI
	case strings.HasPrefix(exe, "neutron-"), exe == "privsep-helper", strings.HasPrefix(exe, "neutron-rootwrap"):
		return GroupNeutronAgents
	case strings.HasPrefix(exe, "octavia"), strings.HasPrefix(line, "octavia-"):
		return GroupOctavia
	case exe == "postgres", strings.HasPrefix(line, "postgres:"):
		return GroupPostgres
	case comm == "beam.smp", comm == "epmd", comm == "erl_child_setup", comm == "inet_gethost":
		return GroupRabbit
	case strings.HasPrefix(comm, "ovs-"), strings.HasPrefix(comm, "ovsdb-"):
		return GroupOVS
	case strings.HasPrefix(exe, "kube-"), exe == "kubelet", exe == "etcd", exe == "kubectl":
		return GroupKube
	case strings.HasPrefix(exe, "containerd"), exe == "runc", exe == "pause", exe == "sleep",
		exe == "bridge", exe == "host-local", exe == "loopback":
		return GroupRuntime
	case exe == "kuryrctl":
		return GroupBench
	}
	return GroupOther
}

// cpuSnapshot is the CPU seconds of every process at one time: its own, and that of its
// waited-for children (short-lived commands such as runc or ovs-vsctl end up there).
type cpuSnapshot struct {
	at    time.Time
	busy  float64
	procs map[int]procCPU
}

type procCPU struct {
	start uint64 // start time in ticks: a reused pid is another process
	group string
	cpu   float64
}

// takeCPUSnapshot reads /proc.
// The machine's busy time is read before and after the walk over /proc and averaged, so
// that it matches the processes' times, which are read during the walk.
func takeCPUSnapshot() (*cpuSnapshot, error) {
	before, err := machineBusy()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	s := &cpuSnapshot{procs: map[int]procCPU{}}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, ok := readProcCPU(pid)
		if ok {
			s.procs[pid] = p
		}
	}
	after, err := machineBusy()
	if err != nil {
		return nil, err
	}
	s.busy, s.at = (before+after)/2, t0.Add(time.Since(t0)/2)
	return s, nil
}

func readProcCPU(pid int) (procCPU, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procCPU{}, false
	}
	st := string(stat)
	open, end := strings.IndexByte(st, '('), strings.LastIndexByte(st, ')')
	if open < 0 || end < open {
		return procCPU{}, false
	}
	comm := st[open+1 : end]
	f := strings.Fields(st[end+1:])
	if len(f) < 20 {
		return procCPU{}, false
	}
	// after ") ": state(0) ... utime(11) stime(12) cutime(13) cstime(14) ... starttime(19)
	var ticks float64
	for _, i := range []int{11, 12, 13, 14} {
		v, _ := strconv.ParseFloat(f[i], 64)
		ticks += v
	}
	start, _ := strconv.ParseUint(f[19], 10, 64)
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	var args []string
	for _, a := range strings.Split(string(cmdline), "\x00") {
		if a != "" {
			args = append(args, a)
		}
	}
	if len(args) == 0 { // kernel threads
		return procCPU{}, false
	}
	return procCPU{start: start, group: groupOf(comm, args), cpu: ticks / clockTicks}, true
}

// machineBusy is the non-idle CPU seconds of all cores since boot.
func machineBusy() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("unexpected /proc/stat")
	}
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 7 { // guest time is already counted in user
			break
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / clockTicks, nil
}

// cpuUse is what happened between two snapshots. A process that lived through both counts
// its difference, one that started in between counts whole; one that ended in between is
// counted in its parent's children time when the parent waited for it (all of it, also what
// it used before the window; a CNI plugin run counts with containerd, which runs it).
func cpuUse(a, b *cpuSnapshot) *CPUUse {
	u := &CPUUse{Seconds: b.at.Sub(a.at).Seconds(), Busy: b.busy - a.busy, Groups: map[string]float64{}}
	var known float64
	for pid, p := range b.procs {
		d := p.cpu
		if old, ok := a.procs[pid]; ok && old.start == p.start {
			d -= old.cpu
		}
		if d <= 0 {
			continue
		}
		u.Groups[p.group] += d
		known += d
	}
	if rest := u.Busy - known; rest > 0 {
		u.Groups[GroupOther] += rest
	}
	for g, s := range u.Groups {
		u.Groups[g] = float64(int(s*100+0.5)) / 100
	}
	return u
}
