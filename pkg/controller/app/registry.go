package app

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kuryr-go/kuryr-go/pkg/config"
)

// Deps is what a controller's Setup gets.
type Deps struct {
	Manager   ctrl.Manager
	Config    *config.Config
	Options   Options
	OpenStack *OpenStack
	// ClusterID is the configured or derived cluster ID (never empty).
	ClusterID string
	Log       logr.Logger
}

// Controller is one entry of the registry.
type Controller struct {
	Name string
	// Handlers are the kuryr-kubernetes handler names in [kubernetes] enabled_handlers
	// that enable it (any one of them does).
	Handlers []string
	Setup    func(Deps) error
}

// registry lists the controllers kuryr-go has, in setup order.
var registry = []Controller{
	{Name: "podport", Handlers: []string{"vif", "kuryrport"}, Setup: setupPodPort},
}

// upcoming are kuryr-kubernetes handlers kuryr-go has no controller for yet: accepted in
// enabled_handlers (kuryr's default names some) with a start-up warning.
var upcoming = []string{
	"service", "endpoints", "kuryrloadbalancer", "namespace", "kuryrnetwork", "kuryrnetwork_population",
	"policy", "kuryrnetworkpolicy", "pod_label", "openshift_machine",
}

// Enabled returns the controllers that handlers enable. An unknown name stops start-up
// naming it; a kuryr handler without a controller yet is logged.
func Enabled(handlers []string, log logr.Logger) ([]Controller, error) {
	var out []Controller
	var later []string
	for _, h := range handlers {
		switch {
		case slices.ContainsFunc(registry, func(c Controller) bool { return slices.Contains(c.Handlers, h) }):
		case slices.Contains(upcoming, h):
			later = append(later, h)
		default:
			return nil, &config.OptionError{Group: "kubernetes", Option: "enabled_handlers",
				Problem: fmt.Sprintf("unknown handler %q (known: %s)", h, strings.Join(known(), ", "))}
		}
	}
	for _, c := range registry {
		if slices.ContainsFunc(c.Handlers, func(h string) bool { return slices.Contains(handlers, h) }) {
			out = append(out, c)
		}
	}
	if len(later) > 0 {
		log.Info("kuryr-kubernetes handlers without a kuryr-go controller yet are ignored", "handlers", later)
	}
	if len(out) == 0 {
		return nil, &config.OptionError{Group: "kubernetes", Option: "enabled_handlers",
			Problem: "enables no controller (vif and kuryrport give pods their ports)"}
	}
	return out, nil
}

func known() []string {
	var out []string
	for _, c := range registry {
		out = append(out, c.Handlers...)
	}
	return append(out, upcoming...)
}

func names(cs []Controller) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// Setup sets up the controllers on the manager, and the probes every controller shares.
func Setup(d Deps, controllers []Controller) error {
	for _, c := range controllers {
		if err := c.Setup(d); err != nil {
			return fmt.Errorf("setting up the %s controller: %w", c.Name, err)
		}
	}
	if err := d.Manager.AddHealthzCheck("ping", func(*http.Request) error { return nil }); err != nil {
		return err
	}
	return d.Manager.AddReadyzCheck("neutron", neutronCheck(d.OpenStack))
}
