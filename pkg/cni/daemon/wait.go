package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/go-logr/logr"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
	"github.com/kuryr-go/kuryr-go/pkg/cni/api"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug"
)

func uidMatches(kp *apiv1.KuryrPort, uid string) bool {
	return uid == "" || kp.Spec.PodStatic || kp.Spec.PodUID == uid
}

func hasDefaultVIF(kp *apiv1.KuryrPort) bool {
	for _, st := range kp.Status.VIFs {
		if st.Default {
			return true
		}
	}
	return false
}

// waitForVIFs waits until the pod's KuryrPort (with the pod's UID) has a default VIF. It gives
// up early when the pod does not exist or has been replaced, and with "try again later" when
// the wait times out.
func (s *Service) waitForVIFs(ctx context.Context, pod PodRef) (*apiv1.KuryrPort, error) {
	log := logr.FromContextOrDiscard(ctx)
	ctx, cancel := context.WithTimeout(ctx, s.Opts.VIFTimeout)
	defer cancel()
	var lastPodCheck time.Time
	logged := false
	for {
		changed := s.Ports.Changed()
		kp, err := s.Ports.GetPort(ctx, pod.Namespace, pod.Name)
		if err != nil {
			return nil, tryAgain(fmt.Sprintf("reading KuryrPort %s", pod), err)
		}
		if kp != nil && uidMatches(kp, pod.UID) && hasDefaultVIF(kp) {
			return kp, nil
		}
		if (kp == nil || !uidMatches(kp, pod.UID)) && time.Since(lastPodCheck) >= s.Opts.PodCheckInterval {
			lastPodCheck = time.Now()
			if err := s.checkPodExists(ctx, pod); err != nil {
				return nil, err
			}
		}
		if !logged {
			log.V(1).Info("Waiting for the pod's VIFs", "kuryrPortFound", kp != nil)
			logged = true
		}
		select {
		case <-changed:
		case <-time.After(time.Second):
		case <-ctx.Done():
			return nil, waitError(ctx, fmt.Sprintf("timed out after %s waiting for the VIFs of pod %s in its KuryrPort", s.Opts.VIFTimeout, pod))
		}
	}
}

// checkPodExists fails with "unknown container" when the pod is gone or replaced.
func (s *Service) checkPodExists(ctx context.Context, pod PodRef) error {
	if s.Pods == nil {
		return nil
	}
	uid, found, err := s.Pods.PodUID(ctx, pod.Namespace, pod.Name)
	if err != nil {
		// The API being unreachable is not a reason to fail: keep waiting.
		logr.FromContextOrDiscard(ctx).Error(err, "Looking up pod failed")
		return nil
	}
	if !found {
		return types.NewError(api.ErrPodNotFound, fmt.Sprintf("pod %s does not exist", pod), "")
	}
	if pod.UID != "" && uid != pod.UID {
		return types.NewError(api.ErrPodNotFound,
			fmt.Sprintf("pod %s has UID %s, the sandbox is for UID %s (pod was re-created)", pod, uid, pod.UID), "")
	}
	return nil
}

// waitError distinguishes our own timeout (try again later) from the plugin going away.
func waitError(ctx context.Context, msg string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return tryAgain(msg, nil)
	}
	return tryAgain("request cancelled: "+msg, ctx.Err())
}

// waitActive waits until every VIF is wired, by the configured signal. It returns which
// signal ended the wait.
//
// A VIF that was already active before this ADD (the pod's sandbox is being re-created) says
// nothing about the new device: with SignalAny only the OVS tag counts for it.
func (s *Service) waitActive(ctx context.Context, pod PodRef, vifs []namedVIF) (string, error) {
	if s.Opts.ActiveSignal == SignalNone {
		return SignalNone, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.Opts.ActiveTimeout)
	defer cancel()
	useNeutron := s.Opts.ActiveSignal != SignalOVS
	useOVS := s.Opts.ActiveSignal != SignalNeutron && s.Tags != nil
	pending := make(map[string]*apiv1.VIF, len(vifs))
	staleActive := map[string]bool{}
	for _, v := range vifs {
		pending[v.vif.ID] = v.vif
		if v.vif.Active && useOVS && s.Opts.ActiveSignal == SignalAny {
			staleActive[v.vif.ID] = true
		}
	}
	signal := ""
	since := time.Now() // the ports are plugged: an OVS reading from now on sees them as they are
	ticker := time.NewTicker(s.Opts.PollInterval)
	defer ticker.Stop()
	for {
		changed := s.Ports.Changed()
		if useNeutron {
			kp, err := s.Ports.GetPort(ctx, pod.Namespace, pod.Name)
			if err == nil && kp != nil && uidMatches(kp, pod.UID) {
				for _, st := range kp.Status.VIFs {
					if st.VIF.Active && pending[st.VIF.ID] != nil && !staleActive[st.VIF.ID] {
						delete(pending, st.VIF.ID)
						signal = SignalNeutron
					}
				}
			}
		}
		if useOVS {
			for id, vif := range pending {
				port := plug.NamesFor(vif).OVSPort()
				if _, ok, err := s.Tags.PortTag(ctx, port, since); err == nil && ok {
					delete(pending, id)
					signal = SignalOVS
				}
			}
		}
		if len(pending) == 0 {
			return signal, nil
		}
		select {
		case <-changed:
		case <-ticker.C:
		case <-ctx.Done():
			ids := make([]string, 0, len(pending))
			for id := range pending {
				ids = append(ids, id)
			}
			return "", waitError(ctx, fmt.Sprintf("timed out after %s waiting for port(s) %v of pod %s to become active (signal %s)",
				s.Opts.ActiveTimeout, ids, pod, s.Opts.ActiveSignal))
		}
	}
}
