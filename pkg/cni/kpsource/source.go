// Package kpsource feeds the daemon with the KuryrPorts of its node from an informer cache
// (label kuryr.openstack.org/nodeName=<node>) and looks pods up in the API server.
package kpsource

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/kuryr-go/kuryr-go/api/v1"
)

// Source is a KuryrPort cache for one node, with the node's KuryrPortPool.
type Source struct {
	cache     cache.Cache
	clientset kubernetes.Interface
	client    client.Client
	nodeName  string
	// poolErr is why the KuryrPortPool cannot be watched (its CRD is missing); nil when it is.
	poolErr error

	mu      sync.Mutex
	changed chan struct{}
}

// New builds the cache; Start must run before GetPort answers.
func New(cfg *rest.Config, nodeName string) (*Source, error) {
	scheme := runtime.NewScheme()
	if err := apiv1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("registering KuryrPort types: %w", err)
	}
	c, err := cache.New(cfg, cacheOptions(scheme, nodeName))
	if err != nil {
		return nil, fmt.Errorf("creating the KuryrPort cache: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("creating the KuryrPortPool client: %w", err)
	}
	return newSource(c, cs, cl, nodeName), nil
}

// cacheOptions keeps the node's own objects only: its KuryrPorts (by label) and its
// KuryrPortPool (by name), without managed fields.
func cacheOptions(scheme *runtime.Scheme, nodeName string) cache.Options {
	return cache.Options{
		Scheme:           scheme,
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&apiv1.KuryrPort{}:     {Label: labels.SelectorFromSet(labels.Set{apiv1.NodeNameLabel: nodeName})},
			&apiv1.KuryrPortPool{}: {Field: fields.OneTermEqualSelector("metadata.name", nodeName)},
		},
	}
}

func newSource(c cache.Cache, cs kubernetes.Interface, cl client.Client, nodeName string) *Source {
	return &Source{cache: c, clientset: cs, client: cl, nodeName: nodeName, changed: make(chan struct{})}
}

// Start runs the informer until ctx ends; it returns once the cache has synced (or failed).
func (s *Source) Start(ctx context.Context, errc chan<- error) error {
	inf, err := s.cache.GetInformer(ctx, &apiv1.KuryrPort{})
	if err != nil {
		return fmt.Errorf("getting the KuryrPort informer: %w", err)
	}
	notify := func(any) { s.notify() }
	onChange := toolscache.ResourceEventHandlerFuncs{
		AddFunc: notify, UpdateFunc: func(_, _ any) { s.notify() }, DeleteFunc: notify,
	}
	if _, err := inf.AddEventHandler(onChange); err != nil {
		return fmt.Errorf("watching KuryrPorts: %w", err)
	}
	if pinf, err := s.cache.GetInformer(ctx, &apiv1.KuryrPortPool{}); err != nil {
		s.poolErr = fmt.Errorf("watching KuryrPortPools: %w", err)
	} else if _, err := pinf.AddEventHandler(onChange); err != nil {
		return fmt.Errorf("watching KuryrPortPools: %w", err)
	}
	go func() { errc <- s.cache.Start(ctx) }()
	if !s.cache.WaitForCacheSync(ctx) {
		return fmt.Errorf("KuryrPort cache did not sync")
	}
	return nil
}

func (s *Source) notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Changed returns a channel closed at the next KuryrPort event.
func (s *Source) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// GetPort returns the cached KuryrPort, or nil.
func (s *Source) GetPort(ctx context.Context, namespace, name string) (*apiv1.KuryrPort, error) {
	kp := &apiv1.KuryrPort{}
	err := s.cache.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, kp)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading KuryrPort %s/%s from the cache: %w", namespace, name, err)
	}
	return kp, nil
}

// PodUID reads the pod from the API server (not cached: the daemon never lists pods).
func (s *Source) PodUID(ctx context.Context, namespace, name string) (string, bool, error) {
	pod, err := s.clientset.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading pod %s/%s: %w", namespace, name, err)
	}
	return string(pod.UID), true, nil
}

// APIHealthy checks the API server's /readyz.
func (s *Source) APIHealthy(ctx context.Context) error {
	res := s.clientset.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx)
	if err := res.Error(); err != nil {
		return fmt.Errorf("API server not ready: %w", err)
	}
	return nil
}
