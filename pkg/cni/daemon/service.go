// Package daemon is the node side of kuryr-go: it serves the CNI plugin's requests on a
// unix socket, waits for the controller to publish the pod's VIFs in its KuryrPort, plugs
// them, waits for the port to be wired and answers with the CNI result.
package daemon

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/go-logr/logr"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/api"
	"github.com/kuryr-go/kuryr-go/pkg/cni/cniresult"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug"
	"github.com/kuryr-go/kuryr-go/pkg/keyed"
)

// PortSource gives the KuryrPorts of this node.
type PortSource interface {
	// GetPort returns the KuryrPort namespace/name, or nil when there is none.
	GetPort(ctx context.Context, namespace, name string) (*apiv1.KuryrPort, error)
	// Changed returns a channel that is closed at the next change of any KuryrPort.
	Changed() <-chan struct{}
}

// PodLookup reads pods from the API server (used only when the KuryrPort is missing).
type PodLookup interface {
	// PodUID returns the pod's UID; found is false when the pod does not exist.
	PodUID(ctx context.Context, namespace, name string) (uid string, found bool, err error)
}

// Plugger does the network work.
type Plugger interface {
	Plug(ctx context.Context, req *plug.Request) (*plug.Result, error)
	Unplug(ctx context.Context, containerID, netns, ifName string) error
	Check(ctx context.Context, req *plug.Request) error
}

// TagReader reads the local VLAN tag the OVS agent puts on a port it has wired, from a
// reading of OVS taken after since.
type TagReader interface {
	PortTag(ctx context.Context, port string, since time.Time) (int, bool, error)
}

// Active signals: which evidence ends the wait for the port to be wired.
const (
	// SignalAny returns on whichever comes first.
	SignalAny = "any"
	// SignalNeutron waits for the controller to mark the VIF active (Neutron says ACTIVE).
	SignalNeutron = "neutron"
	// SignalOVS waits for the OVS agent to tag the port.
	SignalOVS = "ovs"
	// SignalNone does not wait.
	SignalNone = "none"
)

// Options tune the service.
type Options struct {
	// VIFTimeout bounds the wait for the KuryrPort to carry the pod's VIFs.
	VIFTimeout time.Duration
	// ActiveTimeout bounds the wait for the plugged port to be wired.
	ActiveTimeout time.Duration
	// ActiveSignal is one of the Signal constants.
	ActiveSignal string
	// PollInterval is how often OVS (and, as a fallback, the cache) is polled.
	PollInterval time.Duration
	// PodCheckInterval is how often the pod is looked up while its KuryrPort is missing.
	PodCheckInterval time.Duration
	// MaxParallelPlugs bounds the plugs and unplugs running at once. Each takes a few tens
	// of milliseconds but holds an OS thread (namespace switches) and runs ovs-vsctl: a burst
	// of hundreds of pods would otherwise grow the daemon's memory, not its speed.
	MaxParallelPlugs int
}

// DefaultOptions are kuryr's defaults.
func DefaultOptions() Options {
	return Options{
		VIFTimeout: 60 * time.Second, ActiveTimeout: 60 * time.Second, ActiveSignal: SignalAny,
		PollInterval: 100 * time.Millisecond, PodCheckInterval: 2 * time.Second, MaxParallelPlugs: 8,
	}
}

// Service handles CNI requests.
type Service struct {
	Ports   PortSource
	Pods    PodLookup
	Plugger Plugger
	Tags    TagReader
	Opts    Options
	Metrics *Metrics
	// Bridge is the node's OVS bridge ([neutron_defaults] ovs_bridge): a VIF naming another
	// is refused. plug.DefaultBridge when empty.
	Bridge string

	locks keyed.Mutex

	slotsOnce sync.Once
	slots     chan struct{}
}

// slot takes one of MaxParallelPlugs plug slots; it returns the release function.
func (s *Service) slot(ctx context.Context) (func(), error) {
	s.slotsOnce.Do(func() {
		if s.Opts.MaxParallelPlugs > 0 {
			s.slots = make(chan struct{}, s.Opts.MaxParallelPlugs)
		}
	})
	if s.slots == nil {
		return func() {}, nil
	}
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	case <-ctx.Done():
		return nil, waitError(ctx, "waiting for a plug slot")
	}
}

// Add plugs the pod's VIFs and returns the CNI result of its default VIF.
func (s *Service) Add(ctx context.Context, req *api.Request) (*types100.Result, error) {
	pod, err := podFromRequest(req)
	if err != nil {
		return nil, err
	}
	log := logr.FromContextOrDiscard(ctx).WithValues("pod", pod.String(), "containerId", short(req.ContainerID))
	ctx = logr.NewContext(ctx, log)
	unlock := s.locks.Lock(pod.String())
	defer unlock()

	start := time.Now()
	kp, err := s.waitForVIFs(ctx, pod)
	if err != nil {
		return nil, err
	}
	s.Metrics.observePhase("vif", time.Since(start))
	vifs := orderedVIFs(kp, req.IfName)
	if len(vifs) == 0 {
		return nil, types.NewError(types.ErrInternal, fmt.Sprintf("KuryrPort %s has no default VIF", pod), "")
	}
	preqs, err := s.plugRequests(req, pod, kp, vifs)
	if err != nil {
		return nil, err
	}

	success := false
	defer func() {
		if !success {
			if err := s.Plugger.Unplug(context.WithoutCancel(ctx), req.ContainerID, req.Netns, req.IfName); err != nil {
				log.Error(err, "Rollback after failed ADD incomplete")
			}
		}
	}()
	slotRelease, err := s.slot(ctx)
	if err != nil {
		return nil, err
	}
	release := sync.OnceFunc(slotRelease)
	defer release()
	plugStart := time.Now()
	var result *types100.Result
	parked := 0
	for i, v := range vifs {
		preq := preqs[i]
		res, err := s.Plugger.Plug(ctx, preq)
		if err != nil {
			return nil, fmt.Errorf("plugging port %s of pod %s: %w", v.vif.ID, pod, err)
		}
		if res.Parked {
			parked++
		}
		if v.def {
			result, err = cniresult.Build(cniresult.Input{
				VIF: preq.VIF, IfName: preq.IfName, Netns: req.Netns,
				HostIfName: res.HostIfName, HostMAC: res.HostMAC.String(), Default: true,
			})
			if err != nil {
				return nil, fmt.Errorf("building the CNI result: %w", err)
			}
		}
	}
	release()
	s.Metrics.observePhase("plug", time.Since(plugStart))
	activeStart := time.Now()
	signal, err := s.waitActive(ctx, pod, vifs)
	if err != nil {
		return nil, err
	}
	s.Metrics.observePhase("active", time.Since(activeStart))
	success = true
	log.Info("Pod plugged", "ports", len(vifs), "parked", parked, "activeSignal", signal,
		"vifWait", plugStart.Sub(start).String(), "plug", activeStart.Sub(plugStart).String(),
		"activeWait", time.Since(activeStart).String())
	return result, nil
}

// Del unplugs whatever this sandbox got; it never fails for things that are already gone.
func (s *Service) Del(ctx context.Context, req *api.Request) error {
	log := logr.FromContextOrDiscard(ctx).WithValues("containerId", short(req.ContainerID))
	if pod, err := podFromRequest(req); err == nil {
		log = log.WithValues("pod", pod.String())
		unlock := s.locks.Lock(pod.String())
		defer unlock()
	}
	ctx = logr.NewContext(ctx, log)
	if err := plug.ValidIfName(req.IfName); err != nil {
		// ADD refuses such a name, so nothing can have been plugged under it.
		log.Info("Nothing to unplug for an invalid CNI_IFNAME", "error", err.Error())
		return nil
	}
	release, err := s.slot(ctx)
	if err != nil {
		return err
	}
	defer release()
	if err := s.Plugger.Unplug(ctx, req.ContainerID, req.Netns, req.IfName); err != nil {
		return fmt.Errorf("unplugging container %s: %w", short(req.ContainerID), err)
	}
	log.V(1).Info("Sandbox unplugged")
	return nil
}

// Check verifies every VIF of the pod is still plugged into this sandbox.
func (s *Service) Check(ctx context.Context, req *api.Request) error {
	pod, err := podFromRequest(req)
	if err != nil {
		return err
	}
	unlock := s.locks.Lock(pod.String())
	defer unlock()
	kp, err := s.Ports.GetPort(ctx, pod.Namespace, pod.Name)
	if err != nil {
		return fmt.Errorf("reading KuryrPort %s: %w", pod, err)
	}
	if kp == nil {
		return types.NewError(types.ErrUnknownContainer, fmt.Sprintf("no KuryrPort for pod %s", pod), "")
	}
	if !uidMatches(kp, pod.UID) {
		return types.NewError(types.ErrUnknownContainer,
			fmt.Sprintf("KuryrPort %s belongs to pod UID %s, not %s", pod, kp.Spec.PodUID, pod.UID), "")
	}
	vifs := orderedVIFs(kp, req.IfName)
	preqs, err := s.plugRequests(req, pod, kp, vifs)
	if err != nil {
		return err
	}
	for i, v := range vifs {
		if err := s.Plugger.Check(ctx, preqs[i]); err != nil {
			return fmt.Errorf("checking port %s of pod %s: %w", v.vif.ID, pod, err)
		}
	}
	return nil
}

type namedVIF struct {
	ifName string
	def    bool
	vif    *apiv1.VIF
}

// orderedVIFs returns the default VIF first, named ifName, then the others under their keys.
func orderedVIFs(kp *apiv1.KuryrPort, ifName string) []namedVIF {
	var def *namedVIF
	var others []namedVIF
	for name, st := range kp.Status.VIFs {
		v := st.VIF
		if st.Default && def == nil {
			def = &namedVIF{ifName: ifName, def: true, vif: &v}
			continue
		}
		others = append(others, namedVIF{ifName: name, vif: &v})
	}
	if def == nil {
		return nil
	}
	sort.Slice(others, func(i, j int) bool { return others[i].ifName < others[j].ifName })
	return append([]namedVIF{*def}, others...)
}

// plugRequests builds the plug requests of the pod's VIFs and validates them: a VIF this
// node does not plug (another bridge, a device name not derived from its port ID, an invalid
// interface name) fails the whole request before any device is touched.
func (s *Service) plugRequests(req *api.Request, pod PodRef, kp *apiv1.KuryrPort, vifs []namedVIF) ([]*plug.Request, error) {
	if err := plug.ValidIfName(req.IfName); err != nil {
		return nil, types.NewError(types.ErrInvalidEnvironmentVariables, "invalid CNI_IFNAME", err.Error())
	}
	preqs := make([]*plug.Request, 0, len(vifs))
	for _, v := range vifs {
		preq := s.plugRequest(req, pod, kp, v)
		if err := plug.ValidateRequest(preq, s.Bridge); err != nil {
			return nil, types.NewError(types.ErrInternal,
				fmt.Sprintf("KuryrPort %s: VIF %s cannot be plugged on this node", pod, v.ifName), err.Error())
		}
		preqs = append(preqs, preq)
	}
	return preqs, nil
}

func (s *Service) plugRequest(req *api.Request, pod PodRef, kp *apiv1.KuryrPort, v namedVIF) *plug.Request {
	uid := pod.UID
	if uid == "" {
		uid = kp.Spec.PodUID
	}
	return &plug.Request{
		VIF: v.vif, Netns: req.Netns, IfName: v.ifName, ContainerID: req.ContainerID,
		PodNamespace: pod.Namespace, PodName: pod.Name, PodUID: uid, Default: v.def,
	}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
