package daemon

import (
	"errors"
	"strconv"

	"github.com/containernetworking/cni/pkg/types"
)

// cniError returns err as a CNI error; anything not already one becomes 999 with the
// wrapped message, which says what was being done.
func cniError(err error) *types.Error {
	if err == nil {
		return nil
	}
	var e *types.Error
	if errors.As(err, &e) {
		return e
	}
	return types.NewError(types.ErrInternal, err.Error(), "")
}

// tryAgain is "try again later" (11): the condition may clear by itself.
func tryAgain(msg string, err error) *types.Error {
	details := ""
	if err != nil {
		details = err.Error()
	}
	return types.NewError(types.ErrTryAgainLater, msg, details)
}

// resultLabel is the metrics label of a request outcome.
func resultLabel(err error) string {
	if err == nil {
		return "success"
	}
	switch cniError(err).Code {
	case types.ErrTryAgainLater:
		return "try_again_later"
	case types.ErrUnknownContainer:
		return "pod_not_found"
	case types.ErrInvalidEnvironmentVariables, types.ErrDecodingFailure, types.ErrInvalidNetworkConfig:
		return "invalid_request"
	default:
		return "error_" + strconv.FormatUint(uint64(cniError(err).Code), 10)
	}
}
