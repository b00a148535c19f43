# shellcheck shell=bash
# Installs the Debian 12 packages the testbed needs, without letting their maintainer scripts
# configure databases, message queues or Keystone, or start any daemon.

TB_PACKAGES=(
  neutron-server neutron-openvswitch-agent neutron-l3-agent openvswitch-switch rabbitmq-server
  postgresql octavia-api octavia-worker containerd runc containernetworking-plugins busybox-static
  iproute2 iputils-ping ethtool jq openssl curl sudo bc gcc libc6-dev util-linux procps iptables
)

install_packages() {
  local missing=() p
  for p in "${TB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep '^install ok installed' >/dev/null || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && { log "packages present"; return 0; }
  progress "installing ${#missing[@]} Debian packages: ${missing[*]} (log: $TB_CACHE/apt-install.log)"
  mkdir -p "$TB_CACHE"
  export DEBIAN_FRONTEND=noninteractive
  debconf-set-selections <<'EOF'
neutron-common neutron/configure_db boolean false
neutron-common neutron/configure_rabbit boolean false
neutron-common neutron/configure_ksat boolean false
neutron-common neutron/configure_nova boolean false
neutron-api neutron/configure_api-endpoint boolean false
octavia-common octavia/configure_db boolean false
octavia-common octavia/configure_rabbit boolean false
octavia-common octavia/configure_ksat boolean false
octavia-api octavia/configure_api-endpoint boolean false
EOF
  # keep maintainer scripts from starting the daemons: we run them ourselves with our configs
  local made_policy=0 rc=0 t0=$SECONDS
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  if ! apt-cache policy neutron-server 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; then
    apt-get update -q >"$TB_CACHE/apt-update.log" 2>&1 || rc=$?
  fi
  [ $rc = 0 ] && { apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" \
    >"$TB_CACHE/apt-install.log" 2>&1 || rc=$?; }
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  if [ $rc != 0 ]; then
    local bad
    bad=$(grep -oE "Unable to locate package [^ ]+|has no installation candidate" "$TB_CACHE/apt-install.log" | head -1)
    die "apt-get install failed${bad:+: $bad} (log: $TB_CACHE/apt-install.log)"
  fi
  timing "apt-install" $((SECONDS - t0))
}

check_tools() {
  local t
  for t in neutron-server neutron-openvswitch-agent neutron-l3-agent ovs-vswitchd ovsdb-server rabbitmq-server \
    octavia-api octavia-worker containerd runc jq openssl curl nsenter sudo; do
    command -v "$t" >/dev/null || die "$t not found: package missing (run: $0 up, which installs it)"
  done
  [ -x /usr/lib/cni/loopback ] || die "/usr/lib/cni/loopback missing (package containernetworking-plugins)"
  ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || die "postgresql missing (package postgresql)"
  command -v go >/dev/null || die "go not found in PATH (Go is needed to build Kubernetes and kuryr-go)"
}
