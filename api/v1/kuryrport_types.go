package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// NodeNameLabel selects the KuryrPorts of one node (the daemon watches only its own).
	NodeNameLabel = "kuryr.openstack.org/nodeName"
	// KuryrPortFinalizer keeps a KuryrPort until its Neutron port is released.
	KuryrPortFinalizer = "kuryr.openstack.org/kuryrport-finalizer"
	// PodFinalizer keeps a Pod until its port is released.
	PodFinalizer = "kuryr.openstack.org/pod-finalizer"

	// ConditionReady is True when every VIF of the KuryrPort exists in Neutron and is ACTIVE.
	ConditionReady = "Ready"
	// ConditionProgressing is True while the controller still has work to do.
	ConditionProgressing = "Progressing"
)

// Reasons used in KuryrPort conditions and pod Events.
const (
	ReasonPortCreated    = "PortCreated"
	ReasonPortActive     = "PortActive"
	ReasonWaitingActive  = "WaitingForActivePort"
	ReasonQuotaExceeded  = "QuotaExceeded"
	ReasonSubnetFull     = "SubnetExhausted"
	ReasonOpenStackError = "OpenStackError"
	ReasonInvalidConfig  = "InvalidConfiguration"
	ReasonReleasing      = "Releasing"
	ReasonPortRecreated  = "PortRecreated"
	ReasonPortAdopted    = "PortAdopted"
)

// KuryrPort records the Neutron ports (VIFs) of one pod. Its name is the pod's name and it
// lives in the pod's namespace; the controller writes it, the node daemon reads it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=kp
// +kubebuilder:printcolumn:name="PodUID",type=string,JSONPath=`.spec.podUid`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.spec.podNodeName`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type KuryrPort struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   KuryrPortSpec   `json:"spec"`
	Status KuryrPortStatus `json:"status,omitempty"`
}

// KuryrPortSpec identifies the pod the ports belong to.
type KuryrPortSpec struct {
	// PodUID is the UID of the pod; a pod re-created under the same name gets new ports.
	PodUID string `json:"podUid"`
	// PodNodeName is the node the pod is scheduled to (the Neutron binding host).
	PodNodeName string `json:"podNodeName"`
	// PodStatic is true for static (mirror) pods, whose UID differs from the kubelet's.
	// +optional
	PodStatic bool `json:"podStatic,omitempty"`
}

// KuryrPortStatus holds the VIFs keyed by interface name ("eth0" for the default one).
type KuryrPortStatus struct {
	// VIFs by pod interface name. The bound on their number keeps the cost of validating
	// them within what the API server allows.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	VIFs map[string]VIFStatus `json:"vifs,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the spec generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// VIFStatus wraps one VIF as kuryr-kubernetes did ({default, vif}).
type VIFStatus struct {
	// Default marks the pod's primary interface.
	Default bool `json:"default"`
	// VIF also accepts kuryr-kubernetes' os-vif primitives, so objects written by kuryr can
	// be read and adopted.
	// +kubebuilder:pruning:PreserveUnknownFields
	VIF VIF `json:"vif"`
}

// +kubebuilder:object:root=true

// KuryrPortList is a list of KuryrPorts.
type KuryrPortList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KuryrPort `json:"items"`
}
