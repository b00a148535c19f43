package daemon

import (
	"fmt"
	"strings"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/kuryr-go/kuryr-go/pkg/cni/api"
	"github.com/kuryr-go/kuryr-go/pkg/cni/plug"
)

// PodRef identifies the pod of a CNI request, from CNI_ARGS.
type PodRef struct {
	Namespace string
	Name      string
	// UID is K8S_POD_UID; older runtimes do not send it.
	UID string
}

func (p PodRef) String() string { return p.Namespace + "/" + p.Name }

// ParseArgs reads K8S_POD_NAMESPACE, K8S_POD_NAME and K8S_POD_UID from CNI_ARGS
// ("KEY=VALUE;KEY=VALUE"). Unknown keys are ignored.
func ParseArgs(args string) (PodRef, error) {
	var ref PodRef
	for _, kv := range strings.Split(args, ";") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return PodRef{}, fmt.Errorf("malformed CNI_ARGS entry %q", kv)
		}
		switch k {
		case "K8S_POD_NAMESPACE":
			ref.Namespace = v
		case "K8S_POD_NAME":
			ref.Name = v
		case "K8S_POD_UID":
			ref.UID = v
		}
	}
	return ref, nil
}

// podFromRequest parses and validates the pod reference.
func podFromRequest(req *api.Request) (PodRef, error) {
	ref, err := ParseArgs(req.Args)
	if err != nil {
		return PodRef{}, types.NewError(types.ErrInvalidEnvironmentVariables, "parsing CNI_ARGS", err.Error())
	}
	if ref.Namespace == "" || ref.Name == "" {
		return PodRef{}, types.NewError(types.ErrInvalidEnvironmentVariables,
			"CNI_ARGS must carry K8S_POD_NAMESPACE and K8S_POD_NAME", req.Args)
	}
	return ref, nil
}

func validateRequest(req *api.Request) error {
	if req.ContainerID == "" {
		return types.NewError(types.ErrInvalidEnvironmentVariables, "CNI_CONTAINERID is required", "")
	}
	if req.IfName == "" {
		return types.NewError(types.ErrInvalidEnvironmentVariables, "CNI_IFNAME is required", "")
	}
	if req.Command == api.CmdAdd || req.Command == api.CmdCheck {
		if err := plug.ValidIfName(req.IfName); err != nil {
			return types.NewError(types.ErrInvalidEnvironmentVariables, "invalid CNI_IFNAME", err.Error())
		}
	}
	if (req.Command == api.CmdAdd || req.Command == api.CmdCheck) && req.Netns == "" {
		return types.NewError(types.ErrInvalidEnvironmentVariables, "CNI_NETNS is required for "+req.Command, "")
	}
	return nil
}
