# shellcheck shell=bash
# Runs kuryr-go itself on the testbed: builds the binaries from this checkout, installs the
# CRDs, the CNI plugin and its conflist where containerd looks for them, and starts the
# controller and the node daemon as processes inside the testbed namespace.

KURYR_BIN=$TB_STATE/bin
KURYR_SOCK=$TB_RUN/kuryr/daemon.sock
REPO=$(cd "$HERE/.." && pwd)

kuryr_build() {
  mkdir -p "$KURYR_BIN"
  (cd "$REPO" && go build -o "$KURYR_BIN/" ./cmd/...) >"$LOG/kuryr-build.log" 2>&1 \
    || { tail -20 "$LOG/kuryr-build.log" >&2; die "building kuryr-go failed (log: $LOG/kuryr-build.log)"; }
}

kuryr_install_cni() {
  mkdir -p "$CNI_BIN_DIR" "$CNI_CONF_DIR"
  cp -f "$KURYR_BIN/kuryr-cni" "$CNI_BIN_DIR/kuryr-cni.tmp" && mv -f "$CNI_BIN_DIR/kuryr-cni.tmp" "$CNI_BIN_DIR/kuryr-cni"
  cat >"$CNI_CONF_DIR/10-kuryr.conflist.tmp" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "kuryr",
  "plugins": [
    {"type": "kuryr-cni", "daemon_socket": "$KURYR_SOCK", "timeout": 120}
  ]
}
EOF
  mv -f "$CNI_CONF_DIR/10-kuryr.conflist.tmp" "$CNI_CONF_DIR/10-kuryr.conflist"
}

kuryr_health() { in_ns curl -sf -o /dev/null "$1"; }
node_ready() {
  [ "$(kubectl_ns get node "$TB_NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# kuryr_start [CONF]: (re)build and start the controller and daemon (with CONF, default the
# testbed's kuryr.conf); restarts them when running so they always run this checkout's code.
kuryr_start() {
  local t0=$SECONDS conf=${1:-$KURYR_CONF}
  [ -f "$conf" ] || die "no such configuration file: $conf"
  progress "building kuryr-go (log: $LOG/kuryr-build.log)"
  kuryr_build
  kubectl_ns apply -f "$REPO/deploy/crds" >/dev/null || die "cannot install the CRDs from $REPO/deploy/crds"
  kuryr_stop
  mkdir -p "$(dirname "$KURYR_SOCK")"
  start_bg kuryr-controller "$KURYR_BIN/kuryr-controller" --config "$conf" --leader-elect \
    --leader-election-namespace kube-system
  start_bg kuryr-daemon "$KURYR_BIN/kuryr-daemon" --config-file "$conf" --node-name "$TB_NODE" \
    --kubeconfig "$KUBECONFIG_ADMIN" --socket "$KURYR_SOCK"
  wait_healthy kuryr-controller 90 kuryr_health http://127.0.0.1:8082/ready
  wait_healthy kuryr-daemon 60 kuryr_health http://127.0.0.1:8090/ready
  kuryr_install_cni
  wait_healthy kubelet 60 node_ready
  timing kuryr-start $((SECONDS - t0))
}

kuryr_stop() {
  stop_pid kuryr-controller
  stop_pid kuryr-daemon
}
