package podport

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

// staticPodAnnotation is set on the mirror pods of static pods.
const staticPodAnnotation = "kubernetes.io/config.mirror"

// Reconcile brings one pod (and its KuryrPort, same namespace and name) to the desired state.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	pod, err := r.getPod(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, err
	}
	kp, err := r.getKuryrPort(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, err
	}
	if pod != nil && hasFinalizer(pod, apiv1.PodFinalizer) {
		// kuryr-kubernetes held pods until their port was released; kuryr-go does not.
		if err := r.removePodFinalizer(ctx, pod); err != nil {
			return ctrl.Result{}, err
		}
	}

	if kp != nil {
		switch {
		case r.portUnused(pod, kp):
			if res, err := r.release(ctx, pod, kp); err != nil || !res.IsZero() {
				return res, err
			}
			if pod != nil && string(pod.UID) != kp.Spec.PodUID && managed(pod) && pod.DeletionTimestamp == nil {
				// The pod was re-created under the same name: start over once the cache has
				// seen the old KuryrPort go.
				return ctrl.Result{RequeueAfter: r.timing().ActivePoll}, nil
			}
			return ctrl.Result{}, nil
		case pod.DeletionTimestamp != nil:
			// Terminating: the containers may still run (preStop hooks, draining). The
			// update that reports them stopped brings the pod back here; the KuryrPort
			// stays until then even if it is being deleted (foreground deletion).
			deadline := pod.DeletionTimestamp.Add(r.timing().TerminationMargin)
			return ctrl.Result{RequeueAfter: max(deadline.Sub(r.now()), time.Second)}, nil
		case kp.DeletionTimestamp != nil:
			return r.keepPort(ctx, pod, kp)
		case !managed(pod):
			// A KuryrPort prepared before the pod was scheduled keeps its port.
			return ctrl.Result{}, nil
		}
		return r.ensurePort(ctx, pod, kp, false)
	}
	if pod == nil || !managed(pod) || pod.DeletionTimestamp != nil || completed(pod) {
		return ctrl.Result{}, nil
	}
	kp, fresh, err := r.createKuryrPort(ctx, pod)
	if err != nil {
		return ctrl.Result{}, err
	}
	if kp == nil { // an old KuryrPort is still being removed
		log.V(1).Info("Waiting for the previous KuryrPort to go away")
		return ctrl.Result{RequeueAfter: r.timing().ActivePoll}, nil
	}
	return r.ensurePort(ctx, pod, kp, fresh)
}

func (r *Reconciler) getPod(ctx context.Context, key types.NamespacedName) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	if err := r.Client.Get(ctx, key, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("getting pod: %w", err)
	}
	return pod, nil
}

func (r *Reconciler) getKuryrPort(ctx context.Context, key types.NamespacedName) (*apiv1.KuryrPort, error) {
	kp := &apiv1.KuryrPort{}
	if err := r.Client.Get(ctx, key, kp); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("getting KuryrPort: %w", err)
	}
	return kp, nil
}

// managed reports whether the pod should have a Neutron port.
func managed(pod *corev1.Pod) bool {
	return pod.Spec.NodeName != "" && !pod.Spec.HostNetwork
}

// completed reports whether the pod's containers are done for good.
func completed(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// containersStopped reports whether none of the pod's containers runs any more, as far as
// its status tells: a pod that never started has nothing running, a running pod whose
// statuses are not reported yet is taken as running.
func containersStopped(pod *corev1.Pod) bool {
	if completed(pod) {
		return true
	}
	statuses := append(slices.Clone(pod.Status.InitContainerStatuses), pod.Status.ContainerStatuses...)
	if len(statuses) == 0 {
		return pod.Status.Phase == corev1.PodPending || pod.Status.Phase == ""
	}
	for _, cs := range statuses {
		if cs.State.Running != nil || (cs.State.Terminated == nil && cs.State.Waiting == nil) {
			return false
		}
	}
	return true
}

func hasFinalizer(o metav1.Object, f string) bool { return slices.Contains(o.GetFinalizers(), f) }

// portUnused reports whether kp's port has to be given back: the pod is gone, was
// re-created under the same name, runs on the host network, is done, or is terminating
// and its containers have stopped (or its deadline plus the margin has passed: its node
// is not answering).
func (r *Reconciler) portUnused(pod *corev1.Pod, kp *apiv1.KuryrPort) bool {
	if pod == nil || string(pod.UID) != kp.Spec.PodUID || pod.Spec.HostNetwork || completed(pod) {
		return true
	}
	if pod.DeletionTimestamp == nil {
		return false
	}
	return containersStopped(pod) || r.now().After(pod.DeletionTimestamp.Add(r.timing().TerminationMargin))
}

// removePodFinalizer removes the pod finalizer of kuryr-kubernetes with a strategic merge
// patch (no resourceVersion conflicts, other finalizers kept).
func (r *Reconciler) removePodFinalizer(ctx context.Context, pod *corev1.Pod) error {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"$deleteFromPrimitiveList/finalizers": []string{apiv1.PodFinalizer}, "uid": pod.UID,
	}})
	if err := r.Client.Patch(ctx, pod, client.RawPatch(types.StrategicMergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing the kuryr-kubernetes pod finalizer: %w", err)
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Removed the kuryr-kubernetes pod finalizer")
	return nil
}

// removeKuryrPortFinalizer removes our finalizer with a JSON patch guarded by a test of the
// list element, so a concurrent change to the list fails instead of removing the wrong entry.
func (r *Reconciler) removeKuryrPortFinalizer(ctx context.Context, kp *apiv1.KuryrPort) error {
	i := slices.Index(kp.Finalizers, apiv1.KuryrPortFinalizer)
	if i < 0 {
		return nil
	}
	path := fmt.Sprintf("/metadata/finalizers/%d", i)
	patch, _ := json.Marshal([]map[string]any{
		{"op": "test", "path": path, "value": apiv1.KuryrPortFinalizer},
		{"op": "remove", "path": path},
	})
	if err := r.Client.Patch(ctx, kp, client.RawPatch(types.JSONPatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing KuryrPort finalizer: %w", err)
	}
	return nil
}

// createKuryrPort creates the pod's KuryrPort. It returns nil (and no error) when a KuryrPort
// of an earlier pod with the same name still exists; fresh is true when this call created it.
func (r *Reconciler) createKuryrPort(ctx context.Context, pod *corev1.Pod) (*apiv1.KuryrPort, bool, error) {
	ctrlTrue := true
	kp := &apiv1.KuryrPort{
		ObjectMeta: metav1.ObjectMeta{
			Name:       pod.Name,
			Namespace:  pod.Namespace,
			Labels:     map[string]string{apiv1.NodeNameLabel: pod.Spec.NodeName},
			Finalizers: []string{apiv1.KuryrPortFinalizer},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID, Controller: &ctrlTrue,
			}},
		},
		Spec: apiv1.KuryrPortSpec{
			PodUID:      string(pod.UID),
			PodNodeName: pod.Spec.NodeName,
			PodStatic:   pod.Annotations[staticPodAnnotation] != "",
		},
	}
	uid := string(pod.UID)
	r.update(uid, func(rec *record) { rec.ownCreate = true })
	err := r.Client.Create(ctx, kp)
	if err == nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Created KuryrPort")
		return kp, true, nil
	}
	r.update(uid, func(rec *record) { rec.ownCreate = false })
	r.forgetIfEmpty(uid)
	if !apierrors.IsAlreadyExists(err) {
		return nil, false, fmt.Errorf("creating KuryrPort: %w", err)
	}
	// The cache has not seen it yet: read it from the API server.
	reader := r.APIReader
	if reader == nil {
		reader = r.Client
	}
	existing := &apiv1.KuryrPort{}
	if err := reader.Get(ctx, client.ObjectKeyFromObject(kp), existing); err != nil {
		if apierrors.IsNotFound(err) { // deleted in between: try again
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("reading existing KuryrPort: %w", err)
	}
	if existing.Spec.PodUID != uid {
		return nil, false, nil
	}
	return existing, false, nil
}
