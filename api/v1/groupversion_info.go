// Package v1 holds the openstack.org/v1 custom resources, compatible with kuryr-kubernetes:
// KuryrPort (pod ports), with KuryrNetwork, KuryrLoadBalancer and KuryrNetworkPolicy to come.
//
// +kubebuilder:object:generate=true
// +groupName=openstack.org
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the kuryr custom resources.
	GroupVersion = schema.GroupVersion{Group: "openstack.org", Version: "v1"}
	// SchemeBuilder registers the types with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &KuryrPort{}, &KuryrPortList{}, &KuryrPortPool{}, &KuryrPortPoolList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
