package kpsource

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// Recorder posts Kubernetes Events on pods for the daemon.
type Recorder struct {
	rec record.EventRecorder
}

// NewRecorder starts an event broadcaster that writes through the source's client.
func (s *Source) NewRecorder(nodeName string) *Recorder {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.clientset.CoreV1().Events("")})
	return &Recorder{rec: b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kuryr-daemon", Host: nodeName})}
}

// PodEvent records an Event on the pod namespace/name (with uid when known).
func (r *Recorder) PodEvent(namespace, name, uid, eventType, reason, message string) {
	ref := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: namespace, Name: name, UID: types.UID(uid)}
	r.rec.Event(ref, eventType, reason, message)
}

// PoolEvent records an Event on the node's KuryrPortPool (cluster-scoped).
func (r *Recorder) PoolEvent(node, eventType, reason, message string) {
	ref := &corev1.ObjectReference{Kind: "KuryrPortPool", APIVersion: "openstack.org/v1", Name: node}
	r.rec.Event(ref, eventType, reason, message)
}
