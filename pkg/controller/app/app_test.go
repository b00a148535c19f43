package app

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/kuryr-go/kuryr-go/pkg/config"
)

func TestEnabledHandlers(t *testing.T) {
	for _, tc := range []struct {
		handlers []string
		want     []string
		err      string
	}{
		{config.DefaultEnabledHandlers, []string{"podport"}, ""},
		{[]string{"vif"}, []string{"podport"}, ""},
		{[]string{"kuryrport", "policy"}, []string{"podport"}, ""},
		{[]string{"vif", "nosuch"}, nil, `kuryr.conf: [kubernetes] enabled_handlers: unknown handler "nosuch"`},
		{[]string{"service"}, nil, "kuryr.conf: [kubernetes] enabled_handlers: enables no controller"},
	} {
		got, err := Enabled(tc.handlers, logr.Discard())
		if tc.err != "" {
			var oe *config.OptionError
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) || !errors.As(err, &oe) {
				t.Errorf("%v: error %v, want %q", tc.handlers, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(names(got), ",") != strings.Join(tc.want, ",") {
			t.Errorf("%v: %v, %v; want %v", tc.handlers, names(got), err, tc.want)
		}
	}
}

func TestClusterIDDerivedFromKubeSystem(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system", UID: "7d3c-uid"}}
	c := crfake.NewClientBuilder().WithScheme(Scheme()).WithObjects(ns).Build()
	ctx := context.Background()
	if id, err := ClusterID(ctx, c, "", logr.Discard()); err != nil || id != "7d3c-uid" {
		t.Errorf("derived = %q, %v", id, err)
	}
	if id, err := ClusterID(ctx, c, "mine", logr.Discard()); err != nil || id != "mine" {
		t.Errorf("configured = %q, %v", id, err)
	}
	empty := crfake.NewClientBuilder().WithScheme(Scheme()).Build()
	if _, err := ClusterID(ctx, empty, "", logr.Discard()); err == nil || !strings.Contains(err.Error(), "cluster_id is not set") {
		t.Errorf("no kube-system: error %v", err)
	}
}

func TestWatchNamespaceNeedsAnExplicitClusterID(t *testing.T) {
	cfg := &config.Config{}
	cfg.Kubernetes.EnabledHandlers = config.DefaultEnabledHandlers
	err := Run(context.Background(), cfg, Options{Namespaces: []string{"a"}}, logr.Discard())
	if err == nil || !strings.Contains(err.Error(), "--watch-namespace needs an explicit [kubernetes] cluster_id") {
		t.Errorf("Run = %v", err)
	}
}
