package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KuryrPortPool lists the free pool ports of one node ([kubernetes] vif_pool_driver =
// neutron), so that the node daemon can plug them before any pod asks: the OVS agent wires
// a pool port while it waits, and a pod that takes it only moves the ready interface into
// its namespace. It is cluster-scoped and named after the node; the controller writes the
// spec, the node daemon reports what it has plugged in the status.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=kpp
// +kubebuilder:printcolumn:name="Free",type=integer,JSONPath=`.status.free`
// +kubebuilder:printcolumn:name="Plugged",type=integer,JSONPath=`.status.plugged`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type KuryrPortPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec KuryrPortPoolSpec `json:"spec"`
	// +optional
	Status KuryrPortPoolStatus `json:"status,omitempty"`
}

// KuryrPortPoolSpec is the node's free pool ports, in the order the controller hands them
// out.
type KuryrPortPoolSpec struct {
	// NodeName is the node the ports are bound to (the object's name).
	NodeName string `json:"nodeName"`
	// Ports are the free ports as the VIFs a pod would get.
	// +optional
	Ports []VIF `json:"ports,omitempty"`
}

// KuryrPortPoolStatus is what the node daemon did with the spec.
type KuryrPortPoolStatus struct {
	// Free is the number of ports in the spec (for kubectl get).
	// +optional
	Free int `json:"free,omitempty"`
	// Plugged is the number of free ports the daemon has plugged and parked.
	// +optional
	Plugged int `json:"plugged,omitempty"`
}

// +kubebuilder:object:root=true

// KuryrPortPoolList is a list of KuryrPortPools.
type KuryrPortPoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KuryrPortPool `json:"items"`
}
