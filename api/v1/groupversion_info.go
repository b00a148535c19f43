// Package v1 holds the openstack.org/v1 custom resources, compatible with kuryr-kubernetes:
// KuryrPort (pod ports), with KuryrNetwork, KuryrLoadBalancer and KuryrNetworkPolicy to come.
//
// +kubebuilder:object:generate=true
// +groupName=openstack.org
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the kuryr custom resources.
	GroupVersion = schema.GroupVersion{Group: "openstack.org", Version: "v1"}
	// SchemeBuilder registers the types with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
