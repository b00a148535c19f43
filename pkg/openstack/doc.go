// Package openstack is the core every OpenStack service client is built on: a Session
// (authentication from plain options, one HTTP client), Call (one classified, counted API
// call), the error classes, and the typed operation names used in metrics and in the fakes'
// fault injection. The service packages (neutron, keystone) build their clients from a
// Session; nothing outside pkg/openstack talks to gophercloud.
package openstack
