#!/usr/bin/env bash
# kuryr-go all-in-one testbed: real Neutron (ML2/OVS, L3), Open vSwitch on the userspace datapath,
# Octavia (noop drivers), and a real Kubernetes node (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, containerd, kubelet), all inside the network namespace kuryr-tb.
#
# usage: hack/testbed.sh ACTION [ARGS]
#   up                 install packages, build Kubernetes (cached), start everything, create the
#                      seed's topology, write the env file and kuryr.conf (idempotent)
#   down               stop exactly what `up` started, remove our namespaces, bridges and state
#   status             each service with its health
#   env                print the env file (endpoints and IDs)
#   exec CMD...        run CMD inside the testbed namespace, with the env file exported
#   kubectl ARGS...    kubectl with the admin kubeconfig
#   neutron METHOD PATH [JSON]   a raw Neutron API call (noauth)
#   vm-boot NAME [SUBNET_ID] [IP]   boot a "VM" (netns + Neutron port, default: demo's private subnet)
#   vm-delete NAME
#   kuryr-start        build this checkout and run kuryr-go on the testbed: CRDs, controller and
#                      node daemon as processes, the CNI plugin and conflist for the kubelet
#   kuryr-stop         stop the controller and the daemon
#   kuryr-build        only build this checkout into the testbed's bin directory
#   bench-net          a 10.1.0.0/22 pod subnet on router1 and a kuryr.conf using it (benchmarks)
#   build              only build the Kubernetes binaries and images into the cache
# Settings: TB_CACHE (/var/cache/kuryr-go), TB_FIREWALL (openvswitch | iptables_hybrid).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB_FIREWALL=${TB_FIREWALL:-openvswitch}
for f in common packages build openstack kube topology vm kuryr; do
  # shellcheck source=/dev/null
  . "$HERE/testbed/lib/$f.sh"
done

require_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }
require_up() { [ -f "$ENV_FILE" ] && [ -e "/run/netns/$TB_NETNS" ] || die "the testbed is not up (run: $0 up)"; }

up() {
  require_root
  local t0=$SECONDS t
  mkdir -p "$TB_STATE" "$TB_RUN" "$LOG" "$ETC"
  : >"$TB_STATE/timings"
  [ "$TB_FIREWALL" = openvswitch ] || [ "$TB_FIREWALL" = iptables_hybrid ] || die "TB_FIREWALL must be openvswitch or iptables_hybrid"
  t=$SECONDS; install_packages; check_tools; timing packages $((SECONDS - t))
  t=$SECONDS; build_all; timing builds $((SECONDS - t))
  t=$SECONDS
  progress "starting services in netns $TB_NETNS (logs: $LOG)"
  setup_node_netns
  start_postgres
  start_rabbit
  start_ovs
  write_openstack_conf
  start_kube                 # etcd, apiserver, containerd, kubelet, KCM, scheduler start meanwhile
  wait_rabbit
  start_neutron
  start_octavia
  wait_healthy neutron-server 120 http_ok "$(neutron_url)/v2.0/networks"
  start_agents
  wait_neutron
  wait_octavia
  wait_kube
  timing services $((SECONDS - t))
  t=$SECONDS; create_topology; timing topology $((SECONDS - t))
  timing up-total $((SECONDS - t0))
  progress "testbed up in $((SECONDS - t0))s: env file $ENV_FILE, kuryr.conf $KURYR_CONF"
  progress "  $0 kubectl get nodes | $0 exec CMD | $0 vm-boot NAME | $0 status | $0 down"
}

down() {
  require_root
  local t0=$SECONDS ns
  stop_kube
  # the L3 agent's router namespaces: only those of our routers
  local routers=""
  if alive_pid "$TB_RUN/neutron-server.pid"; then
    routers=$(in_ns curl -s -m 10 "$(neutron_url)/v2.0/routers?fields=id" | jq -r '.routers[]?.id' 2>/dev/null || true)
  fi
  stop_openstack
  # whatever else still runs in our namespace is ours (privsep helpers, epmd, our own binaries)
  if [ -e "/run/netns/$TB_NETNS" ]; then
    local pids; pids=$(ip netns pids "$TB_NETNS" 2>/dev/null || true)
    if [ -n "$pids" ]; then kill -TERM $pids 2>/dev/null || true; sleep 1; pids=$(ip netns pids "$TB_NETNS" 2>/dev/null || true); [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true; fi
  fi
  for ns in $(ip netns list | awk '{print $1}' | grep -E '^(tbvm-|tbtest-)' || true) $(printf 'qrouter-%s ' $routers); do
    [ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null || true
  done
  cleanup_kube_host
  [ -e "/run/netns/$TB_NETNS" ] && ip netns del "$TB_NETNS"
  if [ -d "$LOG" ]; then rm -rf "$TB_CACHE/last-logs"; mkdir -p "$TB_CACHE"; cp -r "$LOG" "$TB_CACHE/last-logs"; fi
  rm -rf "$TB_RUN" "$TB_STATE"
  log "testbed down in $((SECONDS - t0))s (logs kept in $TB_CACHE/last-logs)"
}

status() {
  local n rc=0 health
  printf '%-28s %-8s %-8s %s\n' SERVICE PID RSS_MiB HEALTH
  for n in postgres rabbitmq ovsdb-server ovs-vswitchd neutron-server neutron-openvswitch-agent neutron-l3-agent \
    octavia-api octavia-worker etcd kube-apiserver containerd kubelet kube-controller-manager kube-scheduler; do
    if alive_pid "$TB_RUN/$n.pid"; then
      local p; p=$(cat "$TB_RUN/$n.pid")
      health=running
      case $n in
        neutron-server) http_ok "$(neutron_url)/v2.0/networks" && health=healthy || health=unhealthy ;;
        neutron-openvswitch-agent | neutron-l3-agent) agent_alive "$n" && health=alive || health="not-alive" ;;
        octavia-api) http_ok "http://127.0.0.1:$OCTAVIA_PORT/" && health=healthy || health=unhealthy ;;
        etcd) in_ns curl -sf http://127.0.0.1:2379/health >/dev/null && health=healthy || health=unhealthy ;;
        kube-apiserver) curl_k8s https://127.0.0.1:6443/readyz >/dev/null && health=healthy || health=unhealthy ;;
        kubelet) health="node $(kubectl_ns get node "$TB_NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}' 2>/dev/null || echo unknown)" ;;
        ovs-vswitchd) ovs-vsctl --timeout=3 br-exists br-int && health="br-int present" || health="no br-int" ;;
      esac
      printf '%-28s %-8s %-8s %s\n' "$n" "$p" "$(($(awk '/VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0) / 1024))" "$health"
      case $health in unhealthy | not-alive | "no br-int") rc=1 ;; esac
    else
      printf '%-28s %-8s %-8s %s\n' "$n" - - "not running"; rc=1
    fi
  done
  return $rc
}

exec_in() {
  require_up
  set -a
  # shellcheck source=/dev/null
  . "$ENV_FILE"
  set +a
  exec "${NSX[@]}" "$@"
}

ACTION=${1:-}
shift || true
case $ACTION in
  up) up ;;
  down) down ;;
  status) require_up; status ;;
  env) require_up; cat "$ENV_FILE" ;;
  exec) exec_in "$@" ;;
  kubectl) require_up; exec "${NSX[@]}" "$K8S_BIN/kubectl" --kubeconfig="$KUBECONFIG_ADMIN" "$@" ;;
  neutron) require_up; napi "$@"; echo ;;
  vm-boot) require_up; vm_boot "$@" ;;
  vm-delete) require_up; vm_delete "$@" ;;
  kuryr-start) require_root; require_up; kuryr_start "$@" ;;
  kuryr-build) require_root; require_up; kuryr_build ;;
  bench-net) require_root; require_up; create_bench_network ;;
  kuryr-stop) require_root; kuryr_stop ;;
  build) require_root; mkdir -p "$TB_STATE"; install_packages; check_tools; build_all ;;
  *) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; [ -z "$ACTION" ] || exit 2 ;;
esac
