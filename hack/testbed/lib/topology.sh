# shellcheck shell=bash
# The seed's topology, created through the Neutron API (idempotent: looked up by name first),
# and the files that describe it: the env file and a kuryr.conf.

ENV_FILE=$TB_STATE/env
KURYR_CONF=$ETC/kuryr.conf

# Without Keystone, projects are just IDs: derive stable ones from the names.
project_id() { printf 'kuryr-testbed/%s' "$1" | md5sum | cut -c1-32; }

# napi METHOD PATH [BODY]: a Neutron API call from inside the testbed (noauth: no auth headers).
napi() {
  local out code
  out=$(in_ns curl -sS -X "$1" -H 'Content-Type: application/json' -w '\n%{http_code}' \
    "http://127.0.0.1:$NEUTRON_PORT/v2.0$2" ${3:+-d "$3"}) || die "neutron $1 $2: connection failed"
  code=${out##*$'\n'}; out=${out%$'\n'*}
  case $code in 2??) printf '%s' "$out" ;; *) die "neutron $1 $2 -> HTTP $code: $(printf '%s' "$out" | head -c 300)" ;; esac
}

# ensure KIND NAME PROJECT BODY_JSON: id of the KIND (networks, subnets, ...) named NAME in
# PROJECT, created with BODY_JSON (an object without name/project_id) if missing.
ensure() {
  local kind=$1 name=$2 project=$3 body=$4 key=${1//-/_} single id
  single=${key%s}
  id=$(napi GET "/$kind?name=$name&project_id=$project" | jq -r ".${key}[0].id // empty")
  if [ -z "$id" ]; then
    body=$(jq -c --arg n "$name" --arg p "$project" --arg k "$single" '{($k): (. + {name: $n, project_id: $p})}' <<<"$body")
    id=$(napi POST "/$kind" "$body" | jq -r ".${single}.id")
    log "created $single $name ($id)"
  fi
  echo "$id"
}

ensure_sg_rule() { # SG PROJECT RULE_JSON
  local body
  body=$(jq -c --arg sg "$1" --arg p "$2" '{security_group_rule: (. + {security_group_id: $sg, project_id: $p})}' <<<"$3")
  in_ns curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
    "http://127.0.0.1:$NEUTRON_PORT/v2.0/security-group-rules" -d "$body"   # 409 when it exists
}

router_add_subnet() { # ROUTER SUBNET
  local have
  have=$(napi GET "/ports?device_id=$1&fixed_ips=subnet_id%3D$2" | jq '.ports|length')
  [ "$have" != 0 ] || napi PUT "/routers/$1/add_router_interface" "{\"subnet_id\":\"$2\"}" >/dev/null
}

create_topology() {
  local k8s demo podnet podsub svcnet svcsub privnet privsub pubnet pubsub router podsg vmsg
  k8s=$(project_id k8s); demo=$(project_id demo)
  pubnet=$(ensure networks public "$demo" '{"router:external":true,"shared":false,"provider:network_type":"flat","provider:physical_network":"public"}')
  pubsub=$(ensure subnets public-subnet "$demo" "{\"network_id\":\"$pubnet\",\"ip_version\":4,\"cidr\":\"172.24.4.0/24\",\"gateway_ip\":\"172.24.4.1\",\"enable_dhcp\":false}")
  podnet=$(ensure networks k8s-pod-net "$k8s" '{}')
  podsub=$(ensure subnets k8s-pod-subnet "$k8s" "{\"network_id\":\"$podnet\",\"ip_version\":4,\"cidr\":\"10.0.0.64/26\",\"gateway_ip\":\"10.0.0.126\",\"enable_dhcp\":false}")
  svcnet=$(ensure networks k8s-service-net "$k8s" '{}')
  svcsub=$(ensure subnets k8s-service-subnet "$k8s" "{\"network_id\":\"$svcnet\",\"ip_version\":4,\"cidr\":\"10.0.0.128/26\",\"gateway_ip\":\"10.0.0.190\",\"enable_dhcp\":false,\"allocation_pools\":[{\"start\":\"10.0.0.160\",\"end\":\"10.0.0.189\"}]}")
  privnet=$(ensure networks private "$demo" '{}')
  privsub=$(ensure subnets private-subnet "$demo" "{\"network_id\":\"$privnet\",\"ip_version\":4,\"cidr\":\"10.0.0.0/26\",\"gateway_ip\":\"10.0.0.1\",\"enable_dhcp\":false}")
  router=$(ensure routers router1 "$demo" "{\"external_gateway_info\":{\"network_id\":\"$pubnet\"}}")
  router_add_subnet "$router" "$privsub"
  router_add_subnet "$router" "$podsub"
  router_add_subnet "$router" "$svcsub"
  podsg=$(ensure security-groups k8s-pod-sg "$k8s" '{"description":"pods: everything from the cloud subnets, all egress"}')
  vmsg=$(ensure security-groups demo-vm-sg "$demo" '{"description":"testbed VMs: ICMP and TCP in"}')
  local sg
  for sg in "$podsg:$k8s" "$vmsg:$demo"; do
    ensure_sg_rule "${sg%%:*}" "${sg#*:}" '{"direction":"ingress","ethertype":"IPv4","protocol":"icmp","remote_ip_prefix":"0.0.0.0/0"}'
    ensure_sg_rule "${sg%%:*}" "${sg#*:}" '{"direction":"ingress","ethertype":"IPv4","protocol":"tcp","remote_ip_prefix":"0.0.0.0/0"}'
    ensure_sg_rule "${sg%%:*}" "${sg#*:}" '{"direction":"ingress","ethertype":"IPv4","protocol":"udp","remote_ip_prefix":"0.0.0.0/0"}'
  done
  cat >"$ENV_FILE.tmp" <<EOF
# kuryr-go testbed: every endpoint below is reachable only inside netns $TB_NETNS
# (hack/testbed.sh exec CMD runs CMD there).
TB_NETNS=$TB_NETNS
NODE_NAME=$TB_NODE
NODE_IP=$TB_NODE_IP
KUBECONFIG=$KUBECONFIG_ADMIN
KUBECTL=$K8S_BIN/kubectl
NEUTRON_ENDPOINT=http://127.0.0.1:$NEUTRON_PORT/
OCTAVIA_ENDPOINT=http://127.0.0.1:$OCTAVIA_PORT/
K8S_PROJECT_ID=$k8s
DEMO_PROJECT_ID=$demo
POD_NETWORK_ID=$podnet
POD_SUBNET_ID=$podsub
SERVICE_NETWORK_ID=$svcnet
SERVICE_SUBNET_ID=$svcsub
PRIVATE_NETWORK_ID=$privnet
PRIVATE_SUBNET_ID=$privsub
PUBLIC_NETWORK_ID=$pubnet
PUBLIC_SUBNET_ID=$pubsub
ROUTER_ID=$router
POD_SG_ID=$podsg
VM_SG_ID=$vmsg
KURYR_CONF=$KURYR_CONF
CNI_CONF_DIR=$CNI_CONF_DIR
CNI_BIN_DIR=$CNI_BIN_DIR
TEST_IMAGE=$TEST_IMAGE
OVS_FIREWALL=$TB_FIREWALL
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  cat >"$KURYR_CONF" <<EOF
# kuryr.conf for the testbed (generated by hack/testbed.sh)
[kubernetes]
kubeconfig = $KUBECONFIG_ADMIN
cluster_id = kuryr-testbed

[neutron]
auth_type = noauth
endpoint = http://127.0.0.1:$NEUTRON_PORT/

[neutron_defaults]
project = $k8s
pod_subnet = $podsub
pod_security_groups = $podsg
service_subnet = $svcsub
external_svc_subnet = $pubsub
ovs_bridge = br-int
resource_tags = kuryr-testbed
EOF
}

# create_bench_network: a larger pod subnet (10.1.0.0/22) for benchmarks with hundreds of pods,
# on router1 like the seed's pod subnet, and a kuryr.conf that uses it.
create_bench_network() {
  # shellcheck source=/dev/null
  . "$ENV_FILE"
  local k8s net sub
  k8s=$(project_id k8s)
  net=$(ensure networks k8s-bench-net "$k8s" '{}')
  sub=$(ensure subnets k8s-bench-subnet "$k8s" "{\"network_id\":\"$net\",\"ip_version\":4,\"cidr\":\"10.1.0.0/22\",\"gateway_ip\":\"10.1.3.254\",\"enable_dhcp\":false}")
  router_add_subnet "$ROUTER_ID" "$sub"
  sed -e "s/^pod_subnet = .*/pod_subnet = $sub/" "$KURYR_CONF" >"$ETC/kuryr-bench.conf"
  echo "$ETC/kuryr-bench.conf"
}
