package kpsource

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// eventIn waits for the first Event in namespace ns.
func (f *fixture) eventIn(t *testing.T, ns string) corev1.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		evs, err := f.clientset.CoreV1().Events(ns).List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs.Items) > 0 {
			return evs.Items[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no Event in namespace %q", ns)
	return corev1.Event{}
}

func TestRecorderPostsEventsOnPodsAndThePool(t *testing.T) {
	f := newFixture(t, interceptor.Funcs{})
	rec := f.src.NewRecorder(node)

	rec.PodEvent("ns", "pod", "uid-1", corev1.EventTypeWarning, "PlugFailed", "no bridge br-int")
	ev := f.eventIn(t, "ns")
	if o := ev.InvolvedObject; o.Kind != "Pod" || o.Namespace != "ns" || o.Name != "pod" || o.UID != "uid-1" {
		t.Errorf("pod Event is about %+v", o)
	}
	if ev.Type != corev1.EventTypeWarning || ev.Reason != "PlugFailed" || ev.Message != "no bridge br-int" ||
		ev.Source.Component != "kuryr-daemon" || ev.Source.Host != node {
		t.Errorf("pod Event %+v", ev)
	}

	rec.PoolEvent(node, corev1.EventTypeNormal, "Parked", "3 ports plugged ahead")
	ev = f.eventIn(t, metav1.NamespaceDefault) // a cluster-scoped object's Events go to default
	if o := ev.InvolvedObject; o.Kind != "KuryrPortPool" || o.APIVersion != "openstack.org/v1" || o.Name != node {
		t.Errorf("pool Event is about %+v", o)
	}
	if ev.Reason != "Parked" || ev.Message != "3 ports plugged ahead" {
		t.Errorf("pool Event %+v", ev)
	}
}
