# shellcheck shell=bash
# "VMs": a network namespace with its own Neutron port, plugged into br-int the way Nova and
# os-vif do (tap device with external_ids; a qbr/qvb/qvo hybrid plug when Neutron asks for it),
# so the OVS agent wires it and Neutron reports it ACTIVE.

vm_ns() { echo "tbvm-$1"; }

# vm_boot NAME [SUBNET_ID] [IP]: default subnet is demo's private subnet.
vm_boot() {
  local name=${1:?usage: vm-boot NAME [SUBNET_ID] [IP]} subnet=${2:-} ip=${3:-} ns port id mac cidr gw plen dev details hybrid
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  subnet=${subnet:-$PRIVATE_SUBNET_ID}
  ns=$(vm_ns "$name")
  local sn; sn=$(napi GET "/subnets/$subnet") || exit 1
  cidr=$(jq -r .subnet.cidr <<<"$sn"); gw=$(jq -r '.subnet.gateway_ip // empty' <<<"$sn"); plen=${cidr#*/}
  local project; project=$(jq -r .subnet.project_id <<<"$sn")
  id=$(napi GET "/ports?name=$name&device_owner=compute:nova" | jq -r '.ports[0].id // empty')
  if [ -z "$id" ]; then
    local fip='{}'; [ -n "$ip" ] && fip=$(jq -nc --arg s "$subnet" --arg i "$ip" '{subnet_id:$s, ip_address:$i}')
    [ "$fip" = '{}' ] && fip=$(jq -nc --arg s "$subnet" '{subnet_id:$s}')
    port=$(napi POST /ports "$(jq -nc --arg n "$name" --arg net "$(jq -r .subnet.network_id <<<"$sn")" --arg p "$project" \
      --arg h "$TB_NODE" --arg sg "$VM_SG_ID" --argjson f "$fip" --arg d "$(uuidgen 2>/dev/null || cat /proc/sys/kernel/random/uuid)" \
      '{port:{name:$n, network_id:$net, project_id:$p, device_owner:"compute:nova", device_id:$d, "binding:host_id":$h, fixed_ips:[$f], security_groups:[$sg]}}')")
  else
    port=$(napi GET "/ports/$id")
  fi
  id=$(jq -r .port.id <<<"$port"); mac=$(jq -r .port.mac_address <<<"$port"); ip=$(jq -r '.port.fixed_ips[0].ip_address' <<<"$port")
  details=$(jq -c '.port["binding:vif_details"] // {}' <<<"$port")
  hybrid=$(jq -r '.ovs_hybrid_plug // false' <<<"$details")
  dev=tap${id:0:11}
  [ -e "/run/netns/$ns" ] || ip netns add "$ns"
  if ! in_ns ip link show "$dev" >/dev/null 2>&1; then
    in_ns ip link add "$dev" type veth peer name eth0 netns "$ns"
    ip -n "$ns" link set eth0 address "$mac"
    ip -n "$ns" addr add "$ip/$plen" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    [ -n "$gw" ] && ip -n "$ns" route replace default via "$gw"
    in_ns ip link set "$dev" up
  fi
  local ovsdev=$dev
  if [ "$hybrid" = true ]; then
    local qbr=qbr${id:0:11} qvb=qvb${id:0:11} qvo=qvo${id:0:11}
    in_ns ip link show "$qbr" >/dev/null 2>&1 || { in_ns ip link add "$qbr" type bridge; in_ns ip link set "$qbr" up; }
    in_ns ip link show "$qvo" >/dev/null 2>&1 || { in_ns ip link add "$qvb" type veth peer name "$qvo"; in_ns ip link set "$qvb" master "$qbr"; in_ns ip link set "$qvb" up; in_ns ip link set "$qvo" up; }
    in_ns ip link set "$dev" master "$qbr"
    ovsdev=$qvo
  fi
  ovs-vsctl -- --may-exist add-port br-int "$ovsdev" -- set Interface "$ovsdev" \
    external_ids:iface-id="$id" external_ids:attached-mac="$mac" external_ids:iface-status=active \
    external_ids:vm-uuid="$(jq -r .port.device_id <<<"$port")" >/dev/null
  local i status=
  for ((i = 0; i < 240; i++)); do
    status=$(napi GET "/ports/$id" | jq -r .port.status)
    [ "$status" = ACTIVE ] && break
    # a port created before the agent reported in stays binding_failed until it is updated
    [ $((i % 40)) = 39 ] && napi PUT "/ports/$id" "{\"port\":{\"binding:host_id\":\"$TB_NODE\"}}" >/dev/null
    sleep 0.25
  done
  [ "$status" = ACTIVE ] || die "VM $name: port $id is $status, not ACTIVE after 60s (log: $LOG/neutron-openvswitch-agent.log)"
  echo "vm $name: netns $ns, port $id, ip $ip, mac $mac, ACTIVE"
}

vm_delete() {
  local name=${1:?usage: vm-delete NAME} ns id
  ns=$(vm_ns "$name")
  id=$(napi GET "/ports?name=$name&device_owner=compute:nova" | jq -r '.ports[0].id // empty')
  if [ -n "$id" ]; then
    ovs-vsctl --if-exists del-port br-int "tap${id:0:11}" -- --if-exists del-port br-int "qvo${id:0:11}" >/dev/null
    in_ns ip link del "tap${id:0:11}" 2>/dev/null || true
    in_ns ip link del "qvb${id:0:11}" 2>/dev/null || true
    in_ns ip link del "qbr${id:0:11}" 2>/dev/null || true
    napi DELETE "/ports/$id" >/dev/null
  fi
  ip netns del "$ns" 2>/dev/null || true
  echo "vm $name deleted"
}
