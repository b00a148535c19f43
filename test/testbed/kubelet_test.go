//go:build integration

package testbed

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func kubectl(t *testing.T, env Env, args ...string) (string, error) {
	t.Helper()
	full := append([]string{"--kubeconfig=" + env.Get(t, "KUBECONFIG")}, args...)
	out, err := exec.Command(env.Get(t, "KUBECTL"), full...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestKubeletRunsPods proves the node is real: the kubelet starts a pod through containerd and
// runc on this kernel with the locally built images, and `kubectl exec` reaches it. The pod
// uses the host network so that it needs no CNI plugin.
func TestKubeletRunsPods(t *testing.T) {
	env := LoadEnv(t)
	name := fmt.Sprintf("tb-hostnet-%d", time.Now().UnixNano()%100000)
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: default}
spec:
  nodeName: %s
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  tolerations: [{operator: Exists}]
  containers:
  - {name: main, image: %q, imagePullPolicy: Never, command: ["sleep", "3600"]}
`, name, env.Get(t, "NODE_NAME"), env.Get(t, "TEST_IMAGE"))
	cmd := exec.Command(env.Get(t, "KUBECTL"), "--kubeconfig="+env.Get(t, "KUBECONFIG"), "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v: %s", err, out)
	}
	t.Cleanup(func() { _, _ = kubectl(t, env, "delete", "pod", name, "--wait=false") })
	start := time.Now()
	if out, err := kubectl(t, env, "wait", "--for=condition=Ready", "pod/"+name, "--timeout=120s"); err != nil {
		desc, _ := kubectl(t, env, "describe", "pod", name)
		t.Fatalf("pod not Ready: %v: %s\n%s", err, out, desc)
	}
	t.Logf("host-network pod Ready %.2fs after create", time.Since(start).Seconds())
	out, err := kubectl(t, env, "exec", name, "--", "ip", "-o", "addr", "show", "tbnode0")
	if err != nil {
		t.Fatalf("kubectl exec: %v: %s", err, out)
	}
	if !strings.Contains(out, env.Get(t, "NODE_IP")+"/") {
		t.Fatalf("exec in the pod shows %q, want the node address %s", out, env.Get(t, "NODE_IP"))
	}
	if out, err := kubectl(t, env, "delete", "pod", name, "--timeout=60s"); err != nil {
		t.Fatalf("delete: %v: %s", err, out)
	}
}
