package osresource

import (
	"errors"
	"time"

	"github.com/kuryr-go/kuryr-go/pkg/openstack"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

// Failure is what a failed OpenStack call means for the object it was made for: the
// reason of its Ready=False condition and of a Warning Event, a message for users, and
// when to try again.
type Failure struct {
	Reason  string
	Message string
	// Retry is when to try again; zero means exponential back-off (the reconcile returns
	// the error).
	Retry time.Duration
}

// Timing holds the retry intervals of the failures that wait for someone to act.
type Timing struct {
	// Slow is the retry of quota and address exhaustion (an operator frees or raises).
	Slow time.Duration
	// Terminal is the retry of errors a retry cannot fix by itself (credentials, missing
	// resources, refused requests): slow, but a fix is picked up without a restart.
	Terminal time.Duration
}

// Classify maps err, classified once by pkg/openstack, to the Failure users see. A
// resource that does not exist while creating another means the configuration names
// something that is gone (a subnet, network or security group).
func Classify(err error, t Timing) Failure {
	msg := err.Error()
	var osErr *openstack.Error
	if errors.As(err, &osErr) && osErr.Message != "" {
		msg = osErr.Message
	}
	f := Failure{Message: msg, Retry: t.Terminal}
	switch openstack.ClassOf(err) {
	case openstack.ClassOverQuota:
		f.Reason, f.Retry = apiv1.ReasonQuotaExceeded, t.Slow
	case openstack.ClassSubnetExhausted:
		f.Reason, f.Retry = apiv1.ReasonSubnetFull, t.Slow
	case openstack.ClassUnauthorized:
		f.Reason = apiv1.ReasonAuthenticationFailed
		f.Message = "OpenStack refused the credentials of [neutron] (or clouds.yaml): " + msg
	case openstack.ClassForbidden:
		f.Reason = apiv1.ReasonPermissionDenied
		f.Message = "the OpenStack user lacks a role for this request: " + msg
	case openstack.ClassNotFound:
		f.Reason = apiv1.ReasonInvalidConfig
		f.Message = "a resource the configuration names is gone from OpenStack: " + msg
	case openstack.ClassTerminal:
		f.Reason = apiv1.ReasonOpenStackError
	default: // transient, conflict
		f.Reason, f.Retry = apiv1.ReasonOpenStackUnavailable, 0
	}
	return f
}
