# shellcheck shell=bash
# The OpenStack side of the testbed, all inside the testbed namespace on its loopback:
# PostgreSQL, RabbitMQ, Open vSwitch (userspace datapath), neutron-server (ML2/OVS, noauth),
# the OVS and L3 agents, and Octavia (amphora provider with noop drivers).

PG_URL=postgresql+psycopg2://postgres@127.0.0.1:$PG_PORT
TRANSPORT_URL=rabbit://guest:guest@127.0.0.1:$RABBIT_PORT/
OVS_RUNDIR=/var/run/openvswitch

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

start_postgres() {
  local bin pgdir=$TB_STATE/pg db
  bin=$(pg_bin)
  mkdir -p "$pgdir"; chown postgres:postgres "$pgdir"
  if [ ! -s "$pgdir/data/PG_VERSION" ]; then
    runuser -u postgres -- "$bin/initdb" -D "$pgdir/data" -A trust -U postgres -E UTF8 --no-sync \
      >"$LOG/initdb.log" 2>&1 || die "initdb failed (log: $LOG/initdb.log)"
  fi
  if ! runuser -u postgres -- "$bin/pg_ctl" -D "$pgdir/data" status >/dev/null 2>&1; then
    port_free "$PG_PORT"
    touch "$LOG/postgres.log"; chown postgres "$LOG/postgres.log"
    # test-only durability settings
    in_ns runuser -u postgres -- "$bin/pg_ctl" -D "$pgdir/data" -l "$LOG/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $pgdir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB" \
      start >/dev/null || die "postgresql did not start (log: $LOG/postgres.log)"
    head -1 "$pgdir/data/postmaster.pid" >"$TB_RUN/postgres.pid"
    log "started postgres (pid $(cat "$TB_RUN/postgres.pid"))"
  else
    log "postgres already running"
  fi
  for db in neutron octavia; do
    in_ns psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atc "select 1 from pg_database where datname='$db'" | grep 1 >/dev/null \
      || in_ns psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE $db" || die "cannot create database $db (log: $LOG/postgres.log)"
  done
}

rabbit_env() {
  env RABBITMQ_NODENAME="$RABBIT_NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$RABBIT_PORT" \
    RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT" ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_MNESIA_BASE="$TB_STATE/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$TB_STATE/rabbitmq/log" \
    RABBITMQ_PID_FILE="$TB_STATE/rabbitmq/rabbit.pid" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}' "$@"
}

start_rabbit() {
  mkdir -p "$TB_STATE/rabbitmq/mnesia" "$TB_STATE/rabbitmq/log"; chown -R rabbitmq:rabbitmq "$TB_STATE/rabbitmq"
  if alive_pid "$TB_RUN/rabbitmq.pid"; then log "rabbitmq already running"; return 0; fi
  port_free "$RABBIT_PORT"
  start_bg rabbitmq env HOME=/var/lib/rabbitmq RABBITMQ_NODENAME="$RABBIT_NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$RABBIT_PORT" RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT" ERL_EPMD_ADDRESS=127.0.0.1 \
    RABBITMQ_MNESIA_BASE="$TB_STATE/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$TB_STATE/rabbitmq/log" \
    RABBITMQ_PID_FILE="$TB_STATE/rabbitmq/rabbit.pid" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}' rabbitmq-server
}

wait_rabbit() {
  wait_healthy rabbitmq 120 in_ns env HOME=/var/lib/rabbitmq RABBITMQ_NODENAME="$RABBIT_NODE" ERL_EPMD_ADDRESS=127.0.0.1 \
    rabbitmqctl -q -n "$RABBIT_NODE" await_startup --timeout 5
}

start_ovs() {
  local db=$TB_STATE/ovs/conf.db
  mkdir -p "$TB_STATE/ovs" "$OVS_RUNDIR"
  if [ -S "$OVS_RUNDIR/db.sock" ] && ! alive_pid "$TB_RUN/ovsdb-server.pid" && ovs-vsctl --timeout=2 show >/dev/null 2>&1; then
    die "another Open vSwitch is running on this machine ($OVS_RUNDIR/db.sock): stop it first"
  fi
  [ -f "$db" ] || ovsdb-tool create "$db" /usr/share/openvswitch/vswitch.ovsschema
  if ! alive_pid "$TB_RUN/ovsdb-server.pid"; then
    in_ns ovsdb-server "$db" --remote="punix:$OVS_RUNDIR/db.sock" --remote=db:Open_vSwitch,Open_vSwitch,manager_options \
      --pidfile="$TB_RUN/ovsdb-server.pid" --detach --log-file="$LOG/ovsdb-server.log" -vconsole:off \
      || die "ovsdb-server did not start (log: $LOG/ovsdb-server.log)"
  fi
  ovs-vsctl --no-wait init
  # userspace TSO must be on before ovs-vswitchd starts, or TCP between veths fails on netdev
  ovs-vsctl --no-wait set Open_vSwitch . other_config:userspace-tso-enable=true \
    external_ids:system-id="$TB_NODE" external_ids:hostname="$TB_NODE"
  if ! alive_pid "$TB_RUN/ovs-vswitchd.pid"; then
    in_ns ovs-vswitchd "unix:$OVS_RUNDIR/db.sock" --pidfile="$TB_RUN/ovs-vswitchd.pid" --detach \
      --log-file="$LOG/ovs-vswitchd.log" -vconsole:off || die "ovs-vswitchd did not start (log: $LOG/ovs-vswitchd.log)"
  fi
  ovs-vsctl --may-exist add-br br-int -- set Bridge br-int datapath_type=netdev
  ovs-vsctl --may-exist add-br br-ex -- set Bridge br-ex datapath_type=netdev
}

write_openstack_conf() {
  mkdir -p "$ETC/octavia/certs" "$TB_STATE/neutron/lock"
  cat >"$ETC/neutron.conf" <<EOF
[DEFAULT]
host = $TB_NODE
core_plugin = ml2
service_plugins = router,trunk
auth_strategy = noauth
bind_host = 127.0.0.1
bind_port = $NEUTRON_PORT
api_workers = 0
rpc_workers = 0
rpc_state_report_workers = 0
transport_url = $TRANSPORT_URL
state_path = $TB_STATE/neutron
api_paste_config = /etc/neutron/api-paste.ini
allow_overlapping_ips = true
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
dhcp_agent_notification = false
enable_traditional_dhcp = false
debug = false
[database]
connection = $PG_URL/neutron
[oslo_concurrency]
lock_path = $TB_STATE/neutron/lock
[agent]
root_helper = sudo
[quotas]
quota_network = -1
quota_subnet = -1
quota_port = -1
quota_router = -1
quota_floatingip = -1
quota_security_group = -1
quota_security_group_rule = -1
EOF
  cat >"$ETC/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = openvswitch
extension_drivers = port_security,tag_ports_during_bulk_creation
[ml2_type_flat]
flat_networks = public
[ml2_type_vxlan]
vni_ranges = 1:1000
[securitygroup]
enable_security_group = true
EOF
  cat >"$ETC/openvswitch_agent.ini" <<EOF
[ovs]
integration_bridge = br-int
tunnel_bridge = br-tun
datapath_type = netdev
local_ip = 127.0.0.1
bridge_mappings = public:br-ex
ovsdb_connection = tcp:127.0.0.1:6640
of_listen_address = 127.0.0.1
[agent]
tunnel_types = vxlan
l2_population = false
polling_interval = 2
[securitygroup]
firewall_driver = $TB_FIREWALL
enable_security_group = true
EOF
  cat >"$ETC/l3_agent.ini" <<EOF
[DEFAULT]
interface_driver = openvswitch
ovs_use_veth = true
agent_mode = legacy
enable_metadata_proxy = false
[ovs]
integration_bridge = br-int
ovsdb_connection = tcp:127.0.0.1:6640
EOF
}

neutron_url() { echo "http://127.0.0.1:$NEUTRON_PORT"; }
http_ok() { [ "$(in_ns curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ]; }
agent_alive() {
  [ "$(in_ns curl -s "$(neutron_url)/v2.0/agents?binary=$1&host=$TB_NODE&alive=true" | jq '.agents|length')" = 1 ]
}

start_neutron() {
  if ! alive_pid "$TB_RUN/neutron-server.pid"; then
    port_free "$NEUTRON_PORT"
    in_ns neutron-db-manage --config-file "$ETC/neutron.conf" --config-file "$ETC/ml2_conf.ini" upgrade heads \
      >"$LOG/neutron-db-manage.log" 2>&1 || die "neutron-db-manage upgrade failed (log: $LOG/neutron-db-manage.log)"
  fi
  start_bg neutron-server neutron-server --config-file "$ETC/neutron.conf" --config-file "$ETC/ml2_conf.ini" \
    --log-file "$LOG/neutron-server.log"
}

ovs_agent_started_at() {
  in_ns curl -s "$(neutron_url)/v2.0/agents?binary=neutron-openvswitch-agent&host=$TB_NODE" | jq -r '.agents[0].started_at // empty'
}
agent_restarted() { local now; now=$(ovs_agent_started_at); [ -n "$now" ] && [ "$now" != "$1" ]; }

start_agents() {
  # a firewall change (TB_FIREWALL) needs the OVS agent restarted with the new configuration
  if alive_pid "$TB_RUN/neutron-openvswitch-agent.pid" && [ "$(cat "$TB_STATE/firewall" 2>/dev/null)" != "$TB_FIREWALL" ]; then
    log "OVS agent firewall changes to $TB_FIREWALL: restarting the agent"
    local before; before=$(ovs_agent_started_at)
    stop_pid neutron-openvswitch-agent 20
    start_bg neutron-openvswitch-agent neutron-openvswitch-agent --config-file "$ETC/neutron.conf" \
      --config-file "$ETC/openvswitch_agent.ini" --log-file "$LOG/neutron-openvswitch-agent.log"
    # the agent row stays "alive" from the old heartbeat: wait for the new process to report in
    wait_healthy neutron-openvswitch-agent 120 agent_restarted "$before"
  fi
  echo "$TB_FIREWALL" >"$TB_STATE/firewall"
  start_bg neutron-openvswitch-agent neutron-openvswitch-agent --config-file "$ETC/neutron.conf" \
    --config-file "$ETC/openvswitch_agent.ini" --log-file "$LOG/neutron-openvswitch-agent.log"
  start_bg neutron-l3-agent neutron-l3-agent --config-file "$ETC/neutron.conf" --config-file "$ETC/l3_agent.ini" \
    --log-file "$LOG/neutron-l3-agent.log"
}

wait_neutron() {
  wait_healthy neutron-server 120 http_ok "$(neutron_url)/v2.0/networks"
  wait_healthy neutron-openvswitch-agent 120 agent_alive neutron-openvswitch-agent
  wait_healthy neutron-l3-agent 120 agent_alive neutron-l3-agent
}

write_octavia_conf() {
  local o=$ETC/octavia
  if [ ! -s "$o/certs/ca_01.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=kuryr-testbed-octavia-ca" \
      -keyout "$o/certs/ca_key.pem" -out "$o/certs/ca_01.pem" >/dev/null 2>&1 || die "openssl failed"
  fi
  cat >"$o/octavia.conf" <<EOF
[DEFAULT]
transport_url = $TRANSPORT_URL
debug = false
[api_settings]
bind_host = 127.0.0.1
bind_port = $OCTAVIA_PORT
auth_strategy = noauth
api_base_uri = http://127.0.0.1:$OCTAVIA_PORT
enabled_provider_drivers = amphora:'Amphora provider with noop drivers'
default_provider_driver = amphora
[database]
connection = $PG_URL/octavia
[controller_worker]
amphora_driver = amphora_noop_driver
compute_driver = compute_noop_driver
network_driver = network_noop_driver
volume_driver = volume_noop_driver
image_driver = image_noop_driver
distributor_driver = noop_distributor
loadbalancer_topology = SINGLE
client_ca = $o/certs/ca_01.pem
[certificates]
cert_manager = local_cert_manager
ca_certificate = $o/certs/ca_01.pem
ca_private_key = $o/certs/ca_key.pem
server_certs_key_passphrase = insecure-key-do-not-use-this-key
[task_flow]
jobboard_enabled = false
[oslo_concurrency]
lock_path = $TB_STATE/neutron/lock
[health_manager]
bind_ip = 127.0.0.1
EOF
}

# Octavia's alembic migrations are MySQL-only: build the schema from the models, seed the lookup
# tables, then stamp head.
octavia_schema() {
  in_ns psql -h 127.0.0.1 -p "$PG_PORT" -U postgres octavia -Atc "select count(*) from provisioning_status" 2>/dev/null \
    | grep '^[1-9]' >/dev/null && return 0
  in_ns "$PY" -W ignore - "$PG_URL/octavia" >"$LOG/octavia-schema.log" 2>&1 <<'EOF' || die "octavia schema creation failed (log: $LOG/octavia-schema.log)"
import sys, sqlalchemy as sa
from sqlalchemy import orm
from octavia.common import constants as c
from octavia.db import base_models, models
engine = sa.create_engine(sys.argv[1])
base_models.BASE.metadata.create_all(engine)
lookups = [(c.SUPPORTED_PROVISIONING_STATUSES, models.ProvisioningStatus),
           (c.SUPPORTED_HEALTH_MONITOR_TYPES, models.HealthMonitorType),
           (c.SUPPORTED_LB_ALGORITHMS, models.Algorithm), (c.SUPPORTED_PROTOCOLS, models.Protocol),
           (c.SUPPORTED_OPERATING_STATUSES, models.OperatingStatus),
           (c.SUPPORTED_SP_TYPES, models.SessionPersistenceType),
           (c.SUPPORTED_AMPHORA_ROLES, models.AmphoraRoles), (c.SUPPORTED_LB_TOPOLOGIES, models.LBTopology),
           (c.SUPPORTED_VRRP_AUTH, models.VRRPAuthMethod), (c.SUPPORTED_L7RULE_TYPES, models.L7RuleType),
           (c.SUPPORTED_L7RULE_COMPARE_TYPES, models.L7RuleCompareType),
           (c.SUPPORTED_L7POLICY_ACTIONS, models.L7PolicyAction),
           (c.SUPPORTED_CLIENT_AUTH_MODES, models.ClientAuthenticationMode)]
with orm.Session(engine) as s, s.begin():
    for names, cls in lookups:
        for n in names:
            s.add(cls(name=n))
    s.flush()
    s.add(models.FlavorProfile(id=c.NIL_UUID, name='DELETED-PLACEHOLDER', provider_name=c.DELETED, flavor_data='{}'))
    s.flush()
    s.add(models.Flavor(id=c.NIL_UUID, flavor_profile_id=c.NIL_UUID, name='DELETED-PLACEHOLDER', enabled=False))
    s.add(models.AvailabilityZoneProfile(id=c.NIL_UUID, name='DELETED-PLACEHOLDER', provider_name=c.DELETED,
                                         availability_zone_data='{}'))
    s.flush()
    s.add(models.AvailabilityZone(availability_zone_profile_id=c.NIL_UUID, name=c.NIL_UUID, enabled=False))
EOF
  in_ns octavia-db-manage --config-file "$ETC/octavia/octavia.conf" stamp head >"$LOG/octavia-db-manage.log" 2>&1 \
    || die "octavia-db-manage stamp failed (log: $LOG/octavia-db-manage.log)"
}

start_octavia() {
  write_octavia_conf
  if ! alive_pid "$TB_RUN/octavia-api.pid"; then port_free "$OCTAVIA_PORT"; octavia_schema; fi
  start_bg octavia-api octavia-api --config-file "$ETC/octavia/octavia.conf" --log-file "$LOG/octavia-api.log"
  start_bg octavia-worker octavia-worker --config-file "$ETC/octavia/octavia.conf" --log-file "$LOG/octavia-worker.log"
}

wait_octavia() { wait_healthy octavia-api 120 http_ok "http://127.0.0.1:$OCTAVIA_PORT/"; }

stop_openstack() {
  stop_pid octavia-worker; stop_pid octavia-api
  stop_pid neutron-l3-agent 20; stop_pid neutron-openvswitch-agent 20; stop_pid neutron-server
  if alive_pid "$TB_RUN/rabbitmq.pid"; then
    in_ns env HOME=/var/lib/rabbitmq RABBITMQ_NODENAME="$RABBIT_NODE" ERL_EPMD_ADDRESS=127.0.0.1 \
      timeout 60 rabbitmqctl -q -n "$RABBIT_NODE" stop >/dev/null 2>&1 || true
  fi
  stop_pid rabbitmq
  local bin; bin=$(pg_bin)
  if [ -n "$bin" ] && [ -s "$TB_STATE/pg/data/PG_VERSION" ] && runuser -u postgres -- "$bin/pg_ctl" -D "$TB_STATE/pg/data" status >/dev/null 2>&1; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$TB_STATE/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -f "$TB_RUN/postgres.pid"
  if alive_pid "$TB_RUN/ovs-vswitchd.pid"; then
    ovs-vsctl --timeout=5 --if-exists del-br br-int -- --if-exists del-br br-tun -- --if-exists del-br br-ex >/dev/null 2>&1 || true
  fi
  stop_pid ovs-vswitchd; stop_pid ovsdb-server
  # the Debian OVS package owns $OVS_RUNDIR: only our socket and control files go
  rm -f "$OVS_RUNDIR/db.sock" "$OVS_RUNDIR"/ovsdb-server.*.ctl "$OVS_RUNDIR"/ovs-vswitchd.*.ctl "$OVS_RUNDIR"/*.mgmt "$OVS_RUNDIR"/*.snoop 2>/dev/null || true
}
