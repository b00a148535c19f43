# shellcheck shell=bash
# The Kubernetes side of the testbed: etcd, kube-apiserver (TLS, RBAC, service-account tokens),
# kube-controller-manager, kube-scheduler, containerd and a kubelet whose node name is the
# Neutron binding host. The node's CNI configuration lives in $CNI_CONF_DIR; until kuryr-go's
# conflist is installed there the node stays NotReady.

KUBE_RUN=$TB_RUN/containerd
CONTAINERD_SOCK=$KUBE_RUN/containerd.sock
CNI_CONF_DIR=$TB_STATE/cni/net.d
CNI_BIN_DIR=$TB_STATE/cni/bin
KUBECONFIG_ADMIN=$ETC/admin.kubeconfig
KSYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"
CGROUP_ROOT=kuryr-tb

kubectl_ns() { in_ns "$K8S_BIN/kubectl" --kubeconfig="$KUBECONFIG_ADMIN" "$@"; }

mkcert() { # name subject extensions
  local d=$TB_STATE/pki
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/$1.key" -out "$d/$1.csr" -subj "$2" 2>/dev/null
  printf '%s\n' "$3" >"$d/$1.ext"
  openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
    -out "$d/$1.crt" -extfile "$d/$1.ext" 2>/dev/null || die "openssl: cannot sign $1"
  rm -f "$d/$1.csr" "$d/$1.ext"
}

setup_pki() {
  local d=$TB_STATE/pki cli
  [ -f "$d/done" ] && return 0
  mkdir -p "$d"
  cli=$'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth'
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" \
    -days 30 -subj "/CN=kuryr-testbed-ca" 2>/dev/null || die "openssl: cannot create the CA"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/sa.key" 2>/dev/null
  openssl pkey -in "$d/sa.key" -pubout -out "$d/sa.pub"
  mkcert apiserver "/CN=kube-apiserver" $'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n'"subjectAltName=IP:127.0.0.1,IP:$TB_NODE_IP,IP:${TB_SVC_CIDR%.*/*}.129,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  mkcert kubelet-serving "/O=system:nodes/CN=system:node:$TB_NODE" $'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n'"subjectAltName=IP:$TB_NODE_IP,IP:127.0.0.1,DNS:$TB_NODE,DNS:localhost"
  mkcert admin "/O=system:masters/CN=kubernetes-admin" "$cli"
  mkcert kubelet-client "/O=system:nodes/CN=system:node:$TB_NODE" "$cli"
  mkcert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$cli"
  mkcert scheduler "/CN=system:kube-scheduler" "$cli"
  mkcert controller-manager "/CN=system:kube-controller-manager" "$cli"
  touch "$d/done"
}

mkkubeconfig() { # file user certname
  local k=("$K8S_BIN/kubectl" config --kubeconfig="$ETC/$1")
  "${k[@]}" set-cluster kuryr-testbed --server=https://127.0.0.1:6443 --certificate-authority="$TB_STATE/pki/ca.crt" --embed-certs=true >/dev/null
  "${k[@]}" set-credentials "$2" --client-certificate="$TB_STATE/pki/$3.crt" --client-key="$TB_STATE/pki/$3.key" --embed-certs=true >/dev/null
  "${k[@]}" set-context default --cluster=kuryr-testbed --user="$2" >/dev/null
  "${k[@]}" use-context default >/dev/null
}

write_kube_conf() {
  mkdir -p "$ETC" "$CNI_CONF_DIR" "$CNI_BIN_DIR" "$TB_STATE/kubelet" "$TB_STATE/pod-logs" "$TB_STATE/volume-plugins" "$KUBE_RUN"
  cp -f /usr/lib/cni/loopback "$CNI_BIN_DIR/loopback"   # containerd runs `loopback` from its CNI bin dir
  cat >"$ETC/containerd.toml" <<EOF
version = 2
root = "$TB_STATE/containerd"
state = "$KUBE_RUN"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$TB_RUN/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$CNI_CONF_DIR"
    max_conf_num = 1
EOF
  cat >"$ETC/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
cgroupRoot: /$CGROUP_ROOT
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
address: $TB_NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $TB_STATE/pki/kubelet-serving.crt
tlsPrivateKeyFile: $TB_STATE/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $TB_STATE/pki/ca.crt}
authorization:
  mode: AlwaysAllow
podLogsDir: $TB_STATE/pod-logs
volumePluginDir: $TB_STATE/volume-plugins
staticPodPath: ""
resolvConf: ""
maxPods: 250
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  imagefs.available: "1%"
  nodefs.inodesFree: "1%"
EOF
  mkkubeconfig admin.kubeconfig kubernetes-admin admin
  mkkubeconfig kubelet.kubeconfig "system:node:$TB_NODE" kubelet-client
  mkkubeconfig scheduler.kubeconfig system:kube-scheduler scheduler
  mkkubeconfig controller-manager.kubeconfig system:kube-controller-manager controller-manager
}

setup_node_netns() {
  [ -e "/run/netns/$TB_NETNS" ] || ip netns add "$TB_NETNS"
  ip -n "$TB_NETNS" link set lo up
  ip -n "$TB_NETNS" link show tbnode0 >/dev/null 2>&1 || ip -n "$TB_NETNS" link add tbnode0 type veth peer name tbnode1
  ip -n "$TB_NETNS" addr show dev tbnode0 | grep "$TB_NODE_IP/" >/dev/null || ip -n "$TB_NETNS" addr add "$TB_NODE_IP/24" dev tbnode0
  ip -n "$TB_NETNS" link set tbnode0 up; ip -n "$TB_NETNS" link set tbnode1 up
}

cgroup_mounts() { awk '{for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup" || $(i+1) == "cgroup2") print $5; break }}' /proc/self/mountinfo; }
our_cgroups() { local m; for m in $(cgroup_mounts); do [ -d "$m/$CGROUP_ROOT" ] && echo "$m/$CGROUP_ROOT"; done; true; }
setup_cgroups() {
  local m
  for m in $(cgroup_mounts); do
    mkdir -p "$m/$CGROUP_ROOT"
    if [ -f "$m/cpuset.cpus" ] && [ -f "$m/$CGROUP_ROOT/cpuset.cpus" ] && [ -z "$(cat "$m/$CGROUP_ROOT/cpuset.cpus")" ]; then
      cat "$m/cpuset.cpus" >"$m/$CGROUP_ROOT/cpuset.cpus"; cat "$m/cpuset.mems" >"$m/$CGROUP_ROOT/cpuset.mems"
    fi
  done
}

curl_k8s() { in_ns curl -sf --cacert "$TB_STATE/pki/ca.crt" --cert "$TB_STATE/pki/admin.crt" --key "$TB_STATE/pki/admin.key" "$@"; }
node_registered() { kubectl_ns get node "$TB_NODE" >/dev/null 2>&1; }

remember_created() { [ -e "$1" ] || grep -qxF "$1" "$TB_STATE/created-paths" 2>/dev/null || echo "$1" >>"$TB_STATE/created-paths"; }

start_kube() {
  local p=$TB_STATE/pki
  [ -f "$TB_STATE/sysctl.saved" ] || sysctl $KSYSCTLS >"$TB_STATE/sysctl.saved" 2>/dev/null   # kubelet rewrites these
  remember_created /var/lib/kubelet      # kubelet's device manager hard-codes /var/lib/kubelet/device-plugins
  remember_created /run/containerd       # containerd 1.6 shims hard-code /run/containerd/s
  setup_cgroups; setup_pki; write_kube_conf
  alive_pid "$TB_RUN/etcd.pid" || port_free 2379
  start_bg etcd "$ETCD_BIN/etcd" --name kuryr-testbed --data-dir "$TB_STATE/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster kuryr-testbed=http://127.0.0.1:2380 --unsafe-no-fsync --log-level warn
  start_bg containerd containerd --config "$ETC/containerd.toml" --log-level info
  wait_healthy etcd 30 in_ns curl -sf http://127.0.0.1:2379/health
  alive_pid "$TB_RUN/kube-apiserver.pid" || port_free 6443
  start_bg kube-apiserver "$K8S_BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=127.0.0.1 --advertise-address="$TB_NODE_IP" --secure-port=6443 \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" --client-ca-file="$p/ca.crt" \
    --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local --service-cluster-ip-range="$TB_SVC_CIDR" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
    --kubelet-client-certificate="$p/apiserver-kubelet-client.crt" --kubelet-client-key="$p/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP
  wait_healthy containerd 30 test -S "$CONTAINERD_SOCK"
  ctr -a "$CONTAINERD_SOCK" -n k8s.io images import "$TB_CACHE/images/pause.tar" >/dev/null || die "image import failed (log: $LOG/containerd.log)"
  ctr -a "$CONTAINERD_SOCK" -n k8s.io images import "$TB_CACHE/images/busybox.tar" >/dev/null || die "image import failed (log: $LOG/containerd.log)"
  wait_healthy kube-apiserver 120 curl_k8s https://127.0.0.1:6443/readyz
  start_bg kubelet "$K8S_BIN/kubelet" --config="$ETC/kubelet.yaml" --kubeconfig="$ETC/kubelet.kubeconfig" \
    --root-dir="$TB_STATE/kubelet" --hostname-override="$TB_NODE" --node-ip="$TB_NODE_IP" --v=1
  start_bg kube-controller-manager "$K8S_BIN/kube-controller-manager" --kubeconfig="$ETC/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$ETC/controller-manager.kubeconfig" --authorization-kubeconfig="$ETC/controller-manager.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=10257 --use-service-account-credentials=true \
    --service-account-private-key-file="$p/sa.key" --root-ca-file="$p/ca.crt" --cluster-signing-cert-file="$p/ca.crt" \
    --cluster-signing-key-file="$p/ca.key" --flex-volume-plugin-dir="$TB_STATE/volume-plugins"
  start_bg kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig="$ETC/scheduler.kubeconfig" \
    --authentication-kubeconfig="$ETC/scheduler.kubeconfig" --authorization-kubeconfig="$ETC/scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port=10259
}

wait_kube() {
  wait_healthy kubelet 120 node_registered
  wait_healthy kube-scheduler 60 in_ns curl -sfk https://127.0.0.1:10259/healthz
  wait_healthy kube-controller-manager 90 kubectl_ns -n default get sa default
}

stop_kube() {
  stop_pid kube-controller-manager; stop_pid kube-scheduler
  if alive_pid "$TB_RUN/kube-apiserver.pid" && alive_pid "$TB_RUN/kubelet.pid"; then
    # let kubelet stop the pods: it runs CNI DEL for each
    kubectl_ns delete pods --all -A --grace-period=1 --wait=true --timeout=60s >/dev/null 2>&1 || true
  fi
  kuryr_stop   # after the pods: their CNI DEL and port release need the daemon and controller
  stop_pid kubelet
  local id pid cg
  if alive_pid "$TB_RUN/containerd.pid"; then
    for id in $(ctr -a "$CONTAINERD_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$CONTAINERD_SOCK" -n k8s.io tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    sleep 1
    for id in $(ctr -a "$CONTAINERD_SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$CONTAINERD_SOCK" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true
    done
  fi
  stop_pid containerd
  # shims of our containerd (found by our socket path) and processes left in our cgroups
  for pid in $(grep -l -s -- "$CONTAINERD_SOCK" /proc/[0-9]*/cmdline | cut -d/ -f3); do
    [ "$pid" != $$ ] && grep -q containerd-shim "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  for cg in $(our_cgroups); do
    for pid in $(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  stop_pid kube-apiserver 15; stop_pid etcd
}

cleanup_kube_host() {
  local m cg path
  for m in $(awk '{print $5}' /proc/self/mountinfo | grep -E "^($TB_STATE|$TB_RUN)(/|$)" | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
  done
  for cg in $(our_cgroups); do find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || log "could not remove cgroup $cg"; done
  if [ -f "$TB_STATE/sysctl.saved" ]; then
    sed 's/ = /=/' "$TB_STATE/sysctl.saved" | while read -r kv; do sysctl -qw "$kv" || true; done
  fi
  if [ -f "$TB_STATE/created-paths" ]; then
    while read -r path; do
      case $path in
        /var/lib/kubelet) rm -rf /var/lib/kubelet/device-plugins /var/lib/kubelet/plugins /var/lib/kubelet/plugins_registry /var/lib/kubelet/pod-resources
                          rmdir /var/lib/kubelet 2>/dev/null || true ;;
        /run/containerd) rm -rf /run/containerd/s; rmdir /run/containerd 2>/dev/null || true ;;
      esac
    done <"$TB_STATE/created-paths"
  fi
}
