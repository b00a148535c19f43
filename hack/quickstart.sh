#!/usr/bin/env bash
# quickstart: brings up the all-in-one testbed, runs kuryr-go on it, and replays the scenario
# kuryr-kubernetes users know: a pod gets a Neutron port named after it, in the k8s project's
# pod subnet, and pings a VM of the demo project on another subnet through router1 (TTL 63).
set -euo pipefail
cd "$(dirname "$0")/.."
TB=hack/testbed.sh
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '\033[2m# %s\033[0m\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "quickstart: must run as root" >&2; exit 1; }
export PATH=/usr/local/go/bin:$PATH
t0=$SECONDS

step "1/6 testbed: Neutron, OVS, Octavia and Kubernetes (first run: packages and a Kubernetes build, ~15 min)"
$TB up
# shellcheck source=/dev/null
. /var/lib/kuryr-testbed/env
K() { $TB kubectl "$@"; }
CTL() { $TB exec /var/lib/kuryr-testbed/bin/kuryrctl --config "$KURYR_CONF" "$@"; }

step "2/6 kuryr-go: controller and node daemon on node $NODE_NAME, CNI plugin installed"
$TB kuryr-start

step "3/6 a VM of project demo on private-subnet (10.0.0.0/26), at 10.0.0.7 as in the seed"
$TB vm-boot vm1 "$PRIVATE_SUBNET_ID" 10.0.0.7

step "4/6 kubectl run a pod"
show "kubectl get nodes"
K get nodes
if ! K get deployment my-alpine >/dev/null 2>&1; then
  show "kubectl create deployment my-alpine --image=$TEST_IMAGE -- sleep 3600"
  K create deployment my-alpine --image="$TEST_IMAGE" -- sleep 3600
fi
K rollout status deployment/my-alpine --timeout=180s
POD=$(K get pods -l app=my-alpine -o jsonpath='{.items[0].metadata.name}')
show "kubectl get po -o wide"
K get po -o wide

step "5/6 its Neutron port: named after the pod, device_owner compute:kuryr, bound to the node"
for _ in $(seq 1 120); do   # the pod may run before Neutron has recorded the port ACTIVE
  [ "$($TB neutron GET "/ports?name=$POD" | jq -r '.ports[0].status')" = ACTIVE ] && break
  sleep 0.5
done
show "kuryrctl port show $POD"
CTL port show "$POD"
show "kuryr.conf [neutron_defaults] (project, pod_subnet and pod_security_groups match the port)"
sed -n '/^\[neutron_defaults\]/,/^\[/p' "$KURYR_CONF" | grep -v '^\[' | grep -v '^$'
show "router1's interfaces: the demo private subnet and the k8s pod and service subnets meet here"
CTL router ports "$ROUTER_ID"

step "6/6 from inside the pod, ping the VM of project demo (another subnet, through router1)"
show "kubectl exec $POD -- ping -c 4 10.0.0.7"
K exec "$POD" -- ping -c 4 10.0.0.7

cat <<EOF

Done in $((SECONDS - t0))s. The pod reached the VM through router1: TTL 63 is one routed hop.
More pods:     $TB kubectl scale deployment/my-alpine --replicas=5
               $TB kubectl run p2 --image=$TEST_IMAGE --image-pull-policy=Never -- sleep 3600
Their ports:   $TB neutron GET "/ports?device_owner=compute:kuryr" | jq -r '.ports[]|[.name,.status,.fixed_ips[0].ip_address]|@tsv'
Tear down:     $TB down
EOF
