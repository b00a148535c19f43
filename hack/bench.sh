#!/usr/bin/env bash
# bench: pod-networking benchmark on the testbed. In one run it measures
#   1. the floor: a burst of N pods with the plain bridge + host-local CNI (no Neutron at all);
#   2. the raw Neutron port-create rate with a bare client loop, and the same creates each
#      followed by the local plug and the OVS agent's wiring;
#   2b. the local plug alone (veth + OVS add-port + netns configuration, no agent wait);
#   3. the same burst with kuryr-go (controller and daemon as processes);
# every burst ends with the delete of its N pods at once (1 s grace period in every mode),
# timed until each pod object is gone and, with kuryr-go, until every port it used is
# released (deleted, or back in its pool; any left after RELEASE_TIMEOUT fails the run);
# then writes JSON results, latency-cdf.png, delete-cdf.png and timeline.png, and prints a
# table with ratios and checks.
#
# usage: hack/bench.sh [-n PODS] [-o OUTDIR] [-m MODES]
#   MODES: comma list of bridge,neutron,plug,kuryr,kuryr-pools (default all)
#   BENCH_EXTRA_CONF: kuryr.conf sections appended to the benchmark's configuration
set -euo pipefail
cd "$(dirname "$0")/.."
N=50 OUT="" MODES=bridge,neutron,plug,kuryr,kuryr-pools
while getopts "n:o:m:" o; do
  case $o in n) N=$OPTARG ;; o) OUT=$OPTARG ;; m) MODES=$OPTARG ;; *) sed -n '2,16p' "$0"; exit 2 ;; esac
done
OUT=${OUT:-bench-results/n$N-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
TB=hack/testbed.sh
export PATH=/usr/local/go/bin:$PATH
# Ports not released this long after a burst's delete fail the run: 2 min, N s for N over 120.
RELEASE_TIMEOUT=$((N > 120 ? N : 120))s
FAILED=""
has() { [[ ",$MODES," == *",$1,"* ]]; }
say() { printf '[bench] %s\n' "$*" >&2; }

$TB up
# shellcheck source=/dev/null
. /var/lib/kuryr-testbed/env
STATE=/var/lib/kuryr-testbed RUN=/run/kuryr-testbed
CTL=$STATE/bin/kuryrctl
$TB kuryr-build
$TB kubectl apply -f deploy/crds >/dev/null
BENCH_CONF=$($TB bench-net)
if [ -n "${BENCH_EXTRA_CONF:-}" ]; then   # extra kuryr.conf sections for experiments
  printf '\n%s\n' "$BENCH_EXTRA_CONF" >>"$BENCH_CONF"
fi
say "results in $OUT (N=$N, modes $MODES)"

# quiet: wait (at most 3 min) until the machine is idle (CPU at least 80 % idle over 2 s), so a
# reference is not measured while the previous burst is still being torn down.
quiet() {
  local i a b
  for i in $(seq 90); do
    a=$(awk '/^cpu /{print $5+$6, $2+$3+$4+$5+$6+$7+$8}' /proc/stat)
    sleep 2
    b=$(awk '/^cpu /{print $5+$6, $2+$3+$4+$5+$6+$7+$8}' /proc/stat)
    if awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); exit !((y[1]-x[1]) >= 0.8 * (y[2]-x[2])) }'; then
      return 0
    fi
  done
  say "machine still busy after 3 min; measuring anyway"
}

if has bridge; then
  say "floor: plain bridge + host-local CNI, kuryr-go stopped"
  $TB kuryr-stop
  cp -f /usr/lib/cni/bridge /usr/lib/cni/host-local "$CNI_BIN_DIR/"
  # A wrapper records when the runtime called ADD and when bridge returned (the floor's
  # cni_called and cni_added stages).
  CNI_TIMES=$STATE/bench-bridge-cni-times.log
  : >"$CNI_TIMES"
  cat >"$CNI_BIN_DIR/bench-bridge-timed" <<EOF
#!/bin/sh
t0=\$(date +%s.%N)
out=\$("\$(dirname "\$0")/bridge"); rc=\$?
[ "\$CNI_COMMAND" = ADD ] && echo "\$t0 \$(date +%s.%N) \$rc \$CNI_ARGS" >>"$CNI_TIMES"
printf '%s' "\$out"
exit \$rc
EOF
  chmod 755 "$CNI_BIN_DIR/bench-bridge-timed"
  cat >"$CNI_CONF_DIR/05-bench-bridge.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "bench-bridge", "plugins": [{"type": "bench-bridge-timed", "bridge": "benchbr0",
 "isGateway": true, "ipam": {"type": "host-local", "dataDir": "$STATE/cni/ipam",
 "ranges": [[{"subnet": "10.251.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOF
  sleep 2   # containerd picks up the conflist change
  quiet
  rc=0
  $TB exec "$CTL" --config "$BENCH_CONF" bench pods --mode bridge --pods "$N" --out "$OUT/bridge.json" \
    --cni-times "$CNI_TIMES" || rc=$?
  rm -f "$CNI_CONF_DIR/05-bench-bridge.conflist" "$CNI_BIN_DIR/bench-bridge-timed"
  $TB exec ip link del benchbr0 2>/dev/null || true
  [ $rc = 0 ] || { say "bridge burst failed"; exit $rc; }
  sleep 2
fi

if has neutron; then
  quiet
  say "reference: raw Neutron port creates"
  $TB exec "$CTL" --config "$BENCH_CONF" bench neutron --ports 30 --concurrency 4 --bulk 10 --host "$NODE_NAME" --out "$OUT/neutron.json"
  # The same creates, each followed by the local plug and the OVS agent's wiring: what any
  # CNI that gives every pod a new port needs from Neutron, with no Kubernetes at all.
  quiet
  say "reference: Neutron creates, each plugged and wired by the OVS agent"
  $TB exec "$CTL" --config "$BENCH_CONF" bench wired --ports $((N < 100 ? N : 100)) --concurrency 16 --host "$NODE_NAME" \
    --out "$OUT/wired.json"
fi

if has plug; then
  say "reference: the local plug alone (veth + OVS add-port + netns configuration)"
  $TB exec "$CTL" bench plug --count 20 --out "$OUT/plug.json"
fi

if has kuryr; then
  say "kuryr-go: controller and daemon restarted with the benchmark subnet"
  $TB kuryr-start "$BENCH_CONF"
  quiet
  $TB exec "$CTL" --config "$BENCH_CONF" bench pods --mode kuryr --pods "$N" --out "$OUT/kuryr.json" \
    --release-timeout "$RELEASE_TIMEOUT" --process "controller=$RUN/kuryr-controller.pid" --process "daemon=$RUN/kuryr-daemon.pid" \
    --controller-metrics http://127.0.0.1:9654/metrics --daemon-events http://127.0.0.1:8090/debug/cni
fi

if has kuryr-pools; then
  # The pool is prefilled with N ports for the burst; ports_pool_min stays small so that refills
  # (bulk creates) do not compete with the burst, and ports_pool_max leaves room for the N ports
  # the burst gives back; a short update frequency takes the prefilled ports in at once.
  POOL_CONF=$STATE/etc/kuryr-bench-pools.conf
  sed -e 's/^\[kubernetes\]$/[kubernetes]\nvif_pool_driver = neutron/' "$BENCH_CONF" >"$POOL_CONF"
  printf '\n[vif_pool]\nports_pool_min = %d\nports_pool_max = %d\nports_pool_batch = 20\nports_pool_update_frequency = 2\n' \
    10 $((2 * N + 20)) >>"$POOL_CONF"
  say "kuryr-go with port pools: prefilling $N ports on $NODE_NAME"
  $TB kuryr-start "$POOL_CONF"
  # --wait-active: the controller takes the ports in, publishes them, the daemon plugs them
  # ahead and the OVS agent wires them (ACTIVE) before the burst starts.
  $TB exec "$CTL" --config "$POOL_CONF" --timeout 15m pools prefill "$NODE_NAME" --count "$N" --batch 20 \
    --wait-active 10m
  pool_free() {
    $TB exec curl -sf http://127.0.0.1:9654/metrics |
      awk -v n="node=\"$NODE_NAME\"" '/^kuryr_pool_ports\{/ && index($0, n) { s += $NF } END { print s + 0 }'
  }
  for _ in $(seq 120); do [ "$(pool_free)" -ge "$N" ] && break; sleep 1; done
  say "pool of $NODE_NAME holds $(pool_free) free ports"
  quiet
  rc=0
  $TB exec "$CTL" --config "$POOL_CONF" bench pods --mode kuryr-pools --pods "$N" --out "$OUT/kuryr-pools.json" \
    --release-timeout "$RELEASE_TIMEOUT" --process "controller=$RUN/kuryr-controller.pid" --process "daemon=$RUN/kuryr-daemon.pid" \
    --controller-metrics http://127.0.0.1:9654/metrics --daemon-events http://127.0.0.1:8090/debug/cni || rc=$?
  # Stop the pools first so nothing refills them, then delete every free pool port.
  $TB kuryr-stop
  $TB exec "$CTL" --config "$POOL_CONF" --timeout 10m pools drain --any-status "$NODE_NAME"
  [ $rc = 0 ] || { say "kuryr-pools burst failed (rc $rc)"; FAILED="kuryr-pools"; }
fi

$TB exec "$CTL" bench report "$OUT"
say "plots: $OUT/latency-cdf.png $OUT/delete-cdf.png $OUT/timeline.png; JSON: $OUT/*.json"
if has kuryr || has kuryr-pools; then $TB kuryr-start >/dev/null; fi   # back to the testbed's own configuration
if [ -n "$FAILED" ]; then say "FAILED: $FAILED (see above)"; exit 1; fi
