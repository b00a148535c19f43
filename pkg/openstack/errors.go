package openstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/gophercloud/gophercloud/v2"
)

// Class is what a caller needs to know about a failed OpenStack call.
type Class string

// Error classes.
const (
	// ClassNotFound: the resource does not exist (HTTP 404).
	ClassNotFound Class = "not_found"
	// ClassConflict: a 409 other than quota or IP exhaustion; usually resolves on retry.
	ClassConflict Class = "conflict"
	// ClassOverQuota: Neutron 409 OverQuota. Retry slowly; an operator has to act.
	ClassOverQuota Class = "over_quota"
	// ClassSubnetExhausted: Neutron 409 IpAddressGenerationFailure (no free IP).
	ClassSubnetExhausted Class = "subnet_exhausted"
	// ClassTransient: 5xx, 429, timeouts and connection errors. Retry with back-off.
	ClassTransient Class = "transient"
	// ClassUnauthorized: the credentials were refused (HTTP 401 after re-authentication, or
	// authentication itself failed). An operator has to fix the credentials.
	ClassUnauthorized Class = "unauthorized"
	// ClassForbidden: the credentials lack a role or the policy forbids the call (HTTP 403).
	ClassForbidden Class = "forbidden"
	// ClassTerminal: other 4xx and client-side errors. Retrying the same request fails again.
	ClassTerminal Class = "terminal"
)

// Error is a failed OpenStack call, classified once when it happens.
type Error struct {
	// Op says what was being done ("create port").
	Op    Op
	Class Class
	// StatusCode is the HTTP status, 0 for errors without a response.
	StatusCode int
	// Type is the Neutron error type (OverQuota, PortNotFound, ...), if any.
	Type string
	// Message is OpenStack's message, if any.
	Message string
	Err     error
}

func (e *Error) Error() string {
	switch {
	case e.StatusCode != 0 && e.Message != "":
		return fmt.Sprintf("%s: %s (HTTP %d %s): %s", e.Op, e.Class, e.StatusCode, e.Type, e.Message)
	case e.StatusCode != 0:
		return fmt.Sprintf("%s: %s (HTTP %d): %v", e.Op, e.Class, e.StatusCode, e.Err)
	default:
		return fmt.Sprintf("%s: %s: %v", e.Op, e.Class, e.Err)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// NewError builds a classified error; fakes in tests use it too.
func NewError(op Op, class Class, message string) *Error {
	return &Error{Op: op, Class: class, Message: message, Err: errors.New(message)}
}

// ClassOf returns the class of err: the one recorded in an *Error, or else it classifies err.
func ClassOf(err error) Class {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return classify(err).Class
}

// IsNotFound reports whether err means the resource does not exist.
func IsNotFound(err error) bool { return err != nil && ClassOf(err) == ClassNotFound }

// IsRetryable reports whether retrying the same call later can succeed on its own.
func IsRetryable(err error) bool {
	switch ClassOf(err) {
	case ClassTransient, ClassConflict:
		return true
	}
	return false
}

// Wrap classifies err, which came from op. It returns nil for nil, and err itself when it
// is already classified.
func Wrap(op Op, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	c := classify(err)
	c.Op = op
	return c
}

type neutronErrorBody struct {
	NeutronError *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"NeutronError"`
	Error *struct {
		Message string `json:"message"`
		Title   string `json:"title"`
	} `json:"error"`
}

func classify(err error) *Error {
	e := &Error{Err: err}
	var code gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &code) {
		e.StatusCode = code.Actual
		var body neutronErrorBody
		if json.Unmarshal(code.Body, &body) == nil {
			switch {
			case body.NeutronError != nil:
				e.Type, e.Message = body.NeutronError.Type, body.NeutronError.Message
			case body.Error != nil:
				e.Type, e.Message = body.Error.Title, body.Error.Message
			}
		}
		e.Class = classByStatus(code.Actual, e.Type)
		return e
	}
	var notFound gophercloud.ErrResourceNotFound
	if errors.As(err, &notFound) {
		e.Class = ClassNotFound
		return e
	}
	e.Class = ClassTerminal
	var urlErr *url.Error
	var netErr net.Error
	var reauth gophercloud.ErrUnableToReauthenticate
	var afterReauth gophercloud.ErrErrorAfterReauthentication
	switch {
	case errors.As(err, &afterReauth):
		return classify(afterReauth.ErrOriginal)
	case errors.As(err, &reauth):
		// Keystone refused the credentials (or could not be reached while re-authenticating).
		if reauth.ErrReauth != nil {
			if inner := classify(reauth.ErrReauth); inner.Class == ClassTransient {
				return inner
			}
		}
		e.Class = ClassUnauthorized
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.As(err, &urlErr), errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		e.Class = ClassTransient
	}
	return e
}

func classByStatus(status int, neutronType string) Class {
	switch {
	case status == http.StatusNotFound:
		return ClassNotFound
	case status == http.StatusConflict && neutronType == "OverQuota":
		return ClassOverQuota
	case status == http.StatusConflict && neutronType == "IpAddressGenerationFailure":
		return ClassSubnetExhausted
	case status == http.StatusConflict, status == http.StatusPreconditionFailed:
		return ClassConflict
	case status == http.StatusUnauthorized:
		// gophercloud re-authenticates on a 401 and retries once: a 401 that reaches us
		// means the credentials themselves are refused.
		return ClassUnauthorized
	case status == http.StatusForbidden:
		return ClassForbidden
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout:
		return ClassTransient
	case status == http.StatusNotImplemented:
		return ClassTerminal
	case status >= 500:
		return ClassTransient
	default:
		return ClassTerminal
	}
}
