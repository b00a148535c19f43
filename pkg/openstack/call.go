package openstack

import (
	"time"

	"github.com/kuryr-go/kuryr-go/pkg/metrics"
)

// Op names one kind of OpenStack API call ("create port"). It is the metrics label of the
// call, the operation in its errors, and what fakes inject failures by.
type Op string

// Call runs f as operation op: it classifies f's error once and records the call's
// result and duration.
func Call(op Op, f func() error) error {
	start := time.Now()
	err := Wrap(op, f())
	result := "success"
	if err != nil {
		result = string(ClassOf(err))
	}
	metrics.ObserveOpenStackCall(string(op), result, time.Since(start))
	return err
}
