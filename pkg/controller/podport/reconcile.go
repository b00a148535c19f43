package podport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

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

	// A KuryrPort that no longer belongs to a live, running pod gives its ports back first.
	if kp != nil && mustRelease(pod, kp) {
		if res, err := r.release(ctx, pod, kp); err != nil || !res.IsZero() {
			return res, err
		}
		if pod != nil && string(pod.UID) != kp.Spec.PodUID && !pod.Spec.HostNetwork && pod.DeletionTimestamp == nil {
			// The pod was re-created under the same name: start over once the cache has
			// seen the old KuryrPort go.
			return ctrl.Result{RequeueAfter: r.timing().ActivePoll}, nil
		}
		kp = nil
	}
	if pod == nil {
		return ctrl.Result{}, nil
	}
	if !managed(pod) || pod.DeletionTimestamp != nil || completed(pod) {
		if kp != nil { // belongs to this pod but could not be released yet
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, r.removePodFinalizer(ctx, pod)
	}

	// The pod finalizer and the KuryrPort are independent writes: a new pod gets both at once
	// (one API round trip less before its VIF is recorded). Neither touches OpenStack, and
	// ensurePort runs only once both are in place.
	fresh := false
	if kp == nil {
		var finErr error
		var wg sync.WaitGroup
		wg.Add(1)
		patched := pod.DeepCopy() // the patch writes the response into its object
		go func() { defer wg.Done(); finErr = r.addPodFinalizer(ctx, patched) }()
		kp, fresh, err = r.createKuryrPort(ctx, pod)
		wg.Wait()
		if err = errors.Join(finErr, err); err != nil {
			return ctrl.Result{}, err
		}
		if kp == nil { // an old KuryrPort is still being removed
			log.V(1).Info("Waiting for the previous KuryrPort to go away")
			return ctrl.Result{RequeueAfter: r.timing().ActivePoll}, nil
		}
	} else if err := r.addPodFinalizer(ctx, pod); err != nil {
		return ctrl.Result{}, err
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

func hasFinalizer(o metav1.Object, f string) bool { return slices.Contains(o.GetFinalizers(), f) }

// mustRelease reports whether kp's ports have to be given back: the pod is gone, was
// re-created under the same name, is terminating or completed, or the KuryrPort is deleted.
// A pod without a node keeps its KuryrPort: nodeName is never unset, so this only happens
// when the objects were prepared ahead of scheduling, and the port can still be used.
func mustRelease(pod *corev1.Pod, kp *apiv1.KuryrPort) bool {
	return pod == nil || string(pod.UID) != kp.Spec.PodUID || pod.DeletionTimestamp != nil ||
		completed(pod) || pod.Spec.HostNetwork || kp.DeletionTimestamp != nil
}

// addPodFinalizer adds our finalizer with a strategic merge patch, which appends to the
// list without clobbering finalizers added concurrently and without resourceVersion conflicts.
func (r *Reconciler) addPodFinalizer(ctx context.Context, pod *corev1.Pod) error {
	if hasFinalizer(pod, apiv1.PodFinalizer) {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"finalizers": []string{apiv1.PodFinalizer}, "uid": pod.UID,
	}})
	if err := r.Client.Patch(ctx, pod, client.RawPatch(types.StrategicMergePatchType, patch)); err != nil {
		return fmt.Errorf("adding pod finalizer: %w", err)
	}
	return nil
}

func (r *Reconciler) removePodFinalizer(ctx context.Context, pod *corev1.Pod) error {
	if !hasFinalizer(pod, apiv1.PodFinalizer) {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"$deleteFromPrimitiveList/finalizers": []string{apiv1.PodFinalizer}, "uid": pod.UID,
	}})
	if err := r.Client.Patch(ctx, pod, client.RawPatch(types.StrategicMergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing pod finalizer: %w", err)
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Removed pod finalizer")
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
	kp := &apiv1.KuryrPort{
		ObjectMeta: metav1.ObjectMeta{
			Name:       pod.Name,
			Namespace:  pod.Namespace,
			Labels:     map[string]string{apiv1.NodeNameLabel: pod.Spec.NodeName},
			Finalizers: []string{apiv1.KuryrPortFinalizer},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID,
			}},
		},
		Spec: apiv1.KuryrPortSpec{
			PodUID:      string(pod.UID),
			PodNodeName: pod.Spec.NodeName,
			PodStatic:   pod.Annotations[staticPodAnnotation] != "",
		},
	}
	r.ownCreates.Store(string(pod.UID), struct{}{})
	err := r.Client.Create(ctx, kp)
	if err == nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Created KuryrPort")
		return kp, true, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		r.ownCreates.Delete(string(pod.UID))
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
	if existing.Spec.PodUID != string(pod.UID) {
		return nil, false, nil
	}
	return existing, false, nil
}
