package openstack

import (
	"errors"
	"net/http"
	"syscall"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
)

func TestCredentialsRefusedAreNotTransient(t *testing.T) {
	refused := gophercloud.ErrUnexpectedResponseCode{Actual: http.StatusUnauthorized, Body: []byte(`{"error": {"message": "bad", "title": "Unauthorized"}}`)}
	for name, tc := range map[string]struct {
		err  error
		want Class
	}{
		"401 after re-authentication": {refused, ClassUnauthorized},
		"re-authentication refused":   {gophercloud.ErrUnableToReauthenticate{ErrOriginal: refused, ErrReauth: refused}, ClassUnauthorized},
		"keystone unreachable while re-authenticating": {gophercloud.ErrUnableToReauthenticate{ErrOriginal: refused,
			ErrReauth: syscall.ECONNREFUSED}, ClassTransient},
		"403": {gophercloud.ErrUnexpectedResponseCode{Actual: http.StatusForbidden}, ClassForbidden},
	} {
		if got := ClassOf(Wrap("get port", tc.err)); got != tc.want {
			t.Errorf("%s: class %s, want %s", name, got, tc.want)
		}
	}
	if IsRetryable(Wrap("get port", refused)) {
		t.Error("refused credentials are retried as if transient")
	}
	var e *Error
	if err := Wrap("get port", refused); !errors.As(err, &e) || e.Op != "get port" || e.Message != "bad" {
		t.Errorf("Wrap = %#v", err)
	}
}
