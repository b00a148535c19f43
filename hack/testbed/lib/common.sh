# shellcheck shell=bash
# Settings and helpers shared by every part of the testbed.

K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
TB_CACHE=${TB_CACHE:-/var/cache/kuryr-go}          # builds, kept between runs (outside the clone)
TB_STATE=${TB_STATE:-/var/lib/kuryr-testbed}        # runtime state, removed by `down`
TB_RUN=${TB_RUN:-/run/kuryr-testbed}                # pid files, sockets
TB_NETNS=${TB_NETNS:-kuryr-tb}                      # every service runs in this network namespace
TB_NODE=${TB_NODE:-kuryr-node}                      # Kubernetes node name = Neutron binding host
TB_NODE_IP=10.250.0.1                               # node address (veth inside TB_NETNS)
TB_SVC_CIDR=10.0.0.128/26                           # Kubernetes service range = Neutron service subnet
K8S_BIN=$TB_CACHE/k8s-v$K8S_VERSION/bin
ETCD_BIN=$TB_CACHE/etcd-v$ETCD_VERSION/bin
PAUSE_IMAGE=localhost/kuryr-testbed/pause:1
TEST_IMAGE=localhost/kuryr-testbed/busybox:1
NEUTRON_PORT=9696
OCTAVIA_PORT=9876
PG_PORT=55432
RABBIT_PORT=5672
RABBIT_DIST_PORT=25672
RABBIT_NODE=kuryrtb@localhost
PY=/usr/bin/python3   # the OpenStack libraries are Debian's: never a pyenv python
NSX=(nsenter "--net=/run/netns/$TB_NETNS")
ETC=$TB_STATE/etc LOG=$TB_STATE/log

TB_T0=${TB_T0:-$(date +%s.%N)}
export TB_T0
log() { printf '[%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $TB_T0" | bc)" "$*" >&2; }
progress() { log "$*"; }
die() { log "ERROR: $*"; exit 1; }
timing() {
  mkdir -p "$TB_STATE"
  echo "$1=$2" >>"$TB_STATE/timings"
  log "timing: $1 ${2}s"
}
in_ns() { "${NSX[@]}" "$@"; }
alive_pid() { local p; p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# wait_for SECONDS WHAT LOGFILE COMMAND...: poll until COMMAND succeeds; on timeout say which
# check failed and where its log is.
wait_for() {
  local t=$1 what=$2 logf=$3 end; shift 3
  end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge "$end" ] && { [ -f "$logf" ] && tail -5 "$logf" | cut -c1-300 >&2; die "$what did not become healthy within ${t}s (log: $logf)"; }
    sleep 0.25
  done
}

# wait_healthy NAME SECONDS COMMAND...: like wait_for, for the service NAME started by start_bg;
# fails at once, with its log, if the service exits meanwhile.
wait_healthy() {
  local name=$1 t=$2 end logf=$LOG/$1.log; shift 2
  end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    if [ -f "$TB_RUN/$name.pid" ] && ! alive_pid "$TB_RUN/$name.pid"; then
      tail -8 "$logf" 2>/dev/null | cut -c1-300 >&2
      die "$name exited during start-up (log: $logf)"
    fi
    [ $SECONDS -ge "$end" ] && { tail -5 "$logf" 2>/dev/null | cut -c1-300 >&2; die "$name did not become healthy within ${t}s (log: $logf)"; }
    sleep 0.25
  done
}

# start_bg NAME COMMAND...: start COMMAND inside the testbed namespace, detached, unless its
# pid file names a live process. Output goes to $LOG/NAME.log. The service inherits no other
# file descriptor of the caller (a lock held around the call, a pipe the caller waits on).
start_bg() {
  local name=$1; shift
  if alive_pid "$TB_RUN/$name.pid"; then log "$name already running (pid $(cat "$TB_RUN/$name.pid"))"; return 0; fi
  setsid nohup "${NSX[@]}" "$@" >>"$LOG/$name.log" 2>&1 </dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  echo $! >"$TB_RUN/$name.pid"
  log "started $name (pid $!)"
}

# stop_pid NAME [TIMEOUT]: SIGTERM the recorded pid (and its process group), SIGKILL after TIMEOUT.
stop_pid() {
  local name=$1 t=${2:-15} p i
  p=$(cat "$TB_RUN/$name.pid" 2>/dev/null) || return 0
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
    for ((i = 0; i < t * 5; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$p" 2>/dev/null; then
      log "$name (pid $p) ignored SIGTERM for ${t}s: SIGKILL"
      kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
    fi
    log "stopped $name"
  fi
  rm -f "$TB_RUN/$name.pid"
}

# port_free PORT: fails (with the holder) if something already listens on 127.0.0.1:PORT in the
# testbed namespace and it is not ours.
port_free() {
  local port=$1 holder
  holder=$(in_ns ss -Hltnp "sport = :$port" 2>/dev/null | head -1)
  [ -z "$holder" ] || die "port $port is already taken in netns $TB_NETNS: $holder"
}
