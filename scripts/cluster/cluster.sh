#!/usr/bin/env bash
# A throwaway Kubernetes cluster on 127.0.0.1 for the demo and the tests: etcd, kube-apiserver
# (TLS, client-certificate users, Node + RBAC authorization), kube-controller-manager and
# kube-scheduler, built from the Go module proxy by testbin/build.sh; a worker node (node.sh:
# kubelet, kube-proxy, containerd, runc, CNI, built by nodebin/build.sh) and two registries on
# 127.0.0.1 holding the images its pods pull (registry.sh), one of them password-protected.
# KPS_CLUSTER_NODE=none starts the control plane alone (benchmarks that need no pods).
# The API server writes an audit log of the writes to logs/audit.log (write_audit_policy).
#
#   cluster.sh up       build if needed, start, wait until ready, write kubeconfigs
#   cluster.sh down     stop every process `up` started (by PID) and remove the state
#   cluster.sh status   say whether it is up and ready
#   cluster.sh stop COMPONENT / start COMPONENT   stop or start again one process (fault tests)
#
# State lives in $KPS_CLUSTER_DIR (default: .cluster/ in the repo): pki/, logs/, pids, ports,
# kubeconfig (users admin and restricted, current context: admin), restricted.kubeconfig,
# node/ (the node's whole state), registry/ (config.json: the registry user's docker login,
# address), sandbox-registry/ and audit-policy.yaml.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
state="${KPS_CLUSTER_DIR:-$repo/.cluster}"
start_timeout="${KPS_START_TIMEOUT:-120}"
with_node=yes
[ "${KPS_CLUSTER_NODE:-}" != none ] || with_node=""
control_plane=(etcd kube-apiserver kube-controller-manager kube-scheduler)
node_parts=(sandbox-registry registry containerd kubelet kube-proxy)
components=("${control_plane[@]}" "${node_parts[@]}")

log() { echo "cluster: $*" >&2; }
die() { echo "cluster: error: $*" >&2; exit 1; }

pid_of() { cat "$state/$1.pid" 2>/dev/null || true; }
# Running, and not a zombie waiting to be reaped (kill -0 succeeds on those too).
alive() {
  local pid; pid=$(pid_of "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$pid/stat" 2>/dev/null
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

api_get() { # path -> body; fails unless HTTP 2xx
  curl -sf --max-time 5 --cacert "$state/pki/ca.crt" \
    --cert "$state/pki/admin.crt" --key "$state/pki/admin.key" \
    "https://127.0.0.1:$(cat "$state/api.port")$1"
}

wait_for() { # description, command...
  local what=$1; shift
  local deadline=$((SECONDS + start_timeout))
  until "$@" >/dev/null 2>&1; do
    for c in "${components[@]}"; do
      if [ -f "$state/$c.pid" ] && ! alive "$c"; then
        tail -n 20 "$state/logs/$c.log" >&2 || true
        die "$c exited while waiting for $what (log: $state/logs/$c.log)"
      fi
    done
    [ $SECONDS -lt $deadline ] || die "timed out after ${start_timeout}s waiting for $what (logs: $state/logs)"
    sleep 0.2
  done
}

openssl_quiet() { openssl "$@" 2>/dev/null; }
sign() { # name, subject, extensions: $name.key and $name.crt, signed by the CA in the current folder
  openssl_quiet ecparam -name prime256v1 -genkey -noout -out "$1.key"
  openssl_quiet req -new -key "$1.key" -subj "$2" -out "$1.csr"
  printf '%s\n' "$3" > "$1.ext"
  openssl_quiet x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
    -extfile "$1.ext" -out "$1.crt"
  rm -f "$1.csr" "$1.ext"
}

make_pki() {
  local pki="$state/pki"
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl_quiet ecparam -name prime256v1 -genkey -noout -out ca.key
    openssl_quiet req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=kubectl-pullsecret-test-ca" -out ca.crt
    # Pods reach it as the "kubernetes" Service (its ClusterIP, the first address of the service
    # range), which kube-proxy sends to the address it advertises on the node's bridge.
    local names="IP:127.0.0.1,IP:$service_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default"
    names+=",DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    [ -z "$with_node" ] || names+=",IP:$node_gateway"
    sign apiserver "/CN=kube-apiserver" "subjectAltName=$names
extendedKeyUsage=serverAuth"
    sign admin "/O=system:masters/CN=admin" "extendedKeyUsage=clientAuth"
    # The controller manager runs every controller under its own identity, which needs broad rights.
    sign kcm "/O=system:masters/CN=system:kube-controller-manager" "extendedKeyUsage=clientAuth"
    sign restricted "/CN=restricted" "extendedKeyUsage=clientAuth"
    sign scheduler "/CN=system:kube-scheduler" "extendedKeyUsage=clientAuth"
    openssl_quiet genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key
    openssl_quiet pkey -in sa.key -pubout -out sa.pub
  )
}

b64() { base64 -w0 < "$1"; }

write_kubeconfig() { # file, current user, users...
  local file=$1 current=$2; shift 2
  local server="https://127.0.0.1:$(cat "$state/api.port")"
  {
    echo "apiVersion: v1"
    echo "kind: Config"
    echo "clusters:"
    echo "- name: pullsecret-local"
    echo "  cluster:"
    echo "    server: $server"
    echo "    certificate-authority-data: $(b64 "$state/pki/ca.crt")"
    echo "contexts:"
    for user in "$@"; do
      echo "- name: pullsecret-local-$user"
      echo "  context: {cluster: pullsecret-local, user: $user}"
    done
    echo "current-context: pullsecret-local-$current"
    echo "users:"
    for user in "$@"; do
      echo "- name: $user"
      echo "  user:"
      echo "    client-certificate-data: $(b64 "$state/pki/$user.crt")"
      echo "    client-key-data: $(b64 "$state/pki/$user.key")"
    done
  } > "$file"
  chmod 600 "$file"
}

start() { # name, binary, args...
  local name=$1; shift
  # The command line is kept so that `start NAME` can bring the process back after `stop NAME`.
  printf '%s\0' "$@" > "$state/$name.cmd"
  setsid "$@" >> "$state/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$state/$name.pid"
}

stop_component() { # name
  local pid i
  pid=$(pid_of "$1")
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do alive "$1" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do alive "$1" || return 0; sleep 0.1; done
}

cmd_stop() { # component
  [ -f "$state/$1.cmd" ] || die "unknown component \"$1\" (one of: ${components[*]})"
  stop_component "$1"
  log "$1 stopped"
}

cmd_start() { # component
  [ -f "$state/$1.cmd" ] || die "unknown component \"$1\" (one of: ${components[*]})"
  alive "$1" && { log "$1 is already running"; return 0; }
  local -a argv
  mapfile -d '' argv < "$state/$1.cmd"
  start "$1" "${argv[@]}"
  [ "$1" != kube-apiserver ] || wait_for "kube-apiserver /readyz" api_get /readyz
  log "$1 started"
}

# The Services' range; its first address is the "kubernetes" Service's ClusterIP.
service_range=10.0.0.0/24
service_ip=10.0.0.1

# The audit policy: one JSON line (Metadata: who, user agent, verb, object, response code) for
# every write of a ServiceAccount or a Secret, whoever makes it, and for every other write except
# the control plane's and the node's routine ones; no reads, no Events, no Leases. Kept at the
# default "blocking" mode, so a request's line is in the file when its response is sent.
write_audit_policy() { # file
  cat > "$1" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  verbs: [get, list, watch]
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
  resources:
  - group: ""
    resources: [serviceaccounts, serviceaccounts/*, secrets]
- level: None
  resources:
  - group: ""
    resources: [events]
  - group: events.k8s.io
    resources: [events]
  - group: coordination.k8s.io
    resources: [leases]
- level: None
  users: [system:kube-controller-manager, system:kube-scheduler, system:kube-proxy, system:apiserver]
- level: None
  userGroups: [system:nodes]
- level: None
  nonResourceURLs: ["*"]
- level: Metadata
EOF
}

# Controllers: ServiceAccounts and their tokens, namespaces, garbage collection, and for the node
# the workloads (Deployments, ReplicaSets), Services' endpoints (EndpointSlices are what
# kube-proxy and the API server's webhook calls, with --enable-aggregator-routing, resolve a
# Service to), and the node lifecycle (it removes the not-ready taint a node registers with).
kcm_controllers=serviceaccount-token-controller,serviceaccount-controller,namespace-controller,garbage-collector-controller,clusterrole-aggregation-controller,root-ca-certificate-publisher-controller,deployment-controller,replicaset-controller,endpoints-controller,endpointslice-controller,node-lifecycle-controller,pod-garbage-collector-controller

ready() {
  api_get /readyz && api_get /api/v1/namespaces/default/serviceaccounts/default
}

cmd_up() {
  if [ -f "$state/kubeconfig" ] && alive kube-apiserver && ready >/dev/null 2>&1; then
    log "already up: export KUBECONFIG=$state/kubeconfig"
    echo "export KUBECONFIG=$state/kubeconfig"
    return 0
  fi
  [ ! -d "$state" ] || cmd_down >/dev/null
  local bin nodebin=""
  bin=$("$repo/scripts/cluster/testbin/build.sh")
  [ -z "$with_node" ] || nodebin=$("$repo/scripts/cluster/nodebin/build.sh")
  local began=$SECONDS
  mkdir -p "$state/logs" "$state/etcd-data"
  make_pki
  [ -z "$with_node" ] || { node_pki; echo "$nodebin" > "$state/nodebin.path"; }
  local etcd_port peer_port api_port
  etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port)
  echo "$api_port" > "$state/api.port"

  start etcd "$bin/etcd" --data-dir="$state/etcd-data" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --listen-peer-urls="http://127.0.0.1:$peer_port"
  wait_for etcd curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health"

  local pki="$state/pki"
  # How the API server reaches kubelets (logs, exec), and where pods reach it: only with a node.
  # Without one it serves on 127.0.0.1 alone, and the "kubernetes" Endpoints are left alone (a
  # loopback address is not a valid endpoint). With one, pods reach it through the "kubernetes"
  # Service, whose endpoint is the node's bridge address (kept by the lease reconciler) and which
  # kube-proxy sends there. It must then listen on that address as well as on 127.0.0.1 (every
  # kubeconfig), and takes a single --bind-address: it binds every address, and a firewall table
  # (node_apiserver_firewall) drops its port on every interface but the loopback and the bridge.
  local node_flags=(--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --endpoint-reconciler-type=none)
  if [ -n "$with_node" ]; then
    node_claim
    node_apiserver_firewall "$api_port"
    node_flags=(
      --bind-address=0.0.0.0 --advertise-address="$node_gateway" --endpoint-reconciler-type=lease
      --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt"
      --kubelet-client-key="$pki/apiserver-kubelet-client.key"
    )
  fi
  write_audit_policy "$state/audit-policy.yaml"
  start kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --secure-port="$api_port" \
    "${node_flags[@]}" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NodeRestriction,PodNodeSelector \
    --enable-aggregator-routing=true \
    --audit-policy-file="$state/audit-policy.yaml" \
    --audit-log-path="$state/logs/audit.log" --audit-log-format=json \
    --audit-log-maxsize=200 --audit-log-maxbackup=2 \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range="$service_range" \
    --allow-privileged=true \
    --cert-dir="$state/apiserver-certs" \
    --v=1
  wait_for "kube-apiserver /readyz" api_get /readyz
  wait_for "namespace default" api_get /api/v1/namespaces/default

  write_kubeconfig "$state/kcm.kubeconfig" kcm kcm
  # Its default client limit (20 requests a second) made the default ServiceAccount of a new
  # namespace appear 1.4 s late (p95) at 50 namespaces a second, and 10,000 namespaces take ten
  # minutes to get theirs; large clusters raise it too.
  start kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig="$state/kcm.kubeconfig" \
    --controllers="$kcm_controllers" \
    --service-account-private-key-file="$pki/sa.key" \
    --root-ca-file="$pki/ca.crt" \
    --leader-elect=false --secure-port=0 \
    --kube-api-qps=500 --kube-api-burst=1000 \
    --v=1
  wait_for "ServiceAccount default/default" api_get /api/v1/namespaces/default/serviceaccounts/default

  write_kubeconfig "$state/scheduler.kubeconfig" scheduler scheduler
  start kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig="$state/scheduler.kubeconfig" \
    --authentication-kubeconfig="$state/scheduler.kubeconfig" \
    --authorization-kubeconfig="$state/scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port="$(free_port)" \
    --v=1
  local control_plane_ready=$EPOCHREALTIME
  if [ -n "$with_node" ]; then
    registries_start
    registries_push_images
    node_write_containerd_config "$nodebin" "$(cat "$state/sandbox-registry/address")/pause:1" \
      "$(cat "$state/sandbox-registry/address")" "$(cat "$state/registry/address")"
    node_write_kubelet_config "$(free_port)" "$(free_port)"
    node_start "$bin" "$nodebin"
    wait_for "node $node_name Ready" node_ready
    awk -v from="$control_plane_ready" -v to="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", to - from }' > "$state/node/ready.seconds"
    log "node $node_name Ready $(cat "$state/node/ready.seconds")s after the control plane"
    node_start_proxy "$bin"
  fi

  write_kubeconfig "$state/kubeconfig" admin admin restricted
  write_kubeconfig "$state/restricted.kubeconfig" restricted restricted
  local version
  version=$(api_get /version | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p')
  log "Kubernetes $version ready on https://127.0.0.1:$api_port in $((SECONDS - began))s"
  if [ -n "$with_node" ]; then
    log "private registry: $(cat "$state/registry/address") (user $registry_user; its docker login: $state/registry/config.json)"
    log "  try: kubectl pullsecret add regcred -n default --from-docker-config $state/registry/config.json"
  fi
  echo "export KUBECONFIG=$state/kubeconfig"
}

cmd_down() {
  [ -d "$state" ] || { log "not up"; return 0; }
  local c
  # The node first (its pods, mounts and devices), then the control plane in reverse start order.
  node_teardown
  for c in registry sandbox-registry kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_component "$c"; done
  node_apiserver_firewall_down
  rm -rf "$state"
  log "down"
}

cmd_status() {
  [ -d "$state" ] || { echo "down"; return 1; }
  local c
  for c in "${components[@]}"; do
    [ -f "$state/$c.cmd" ] || continue
    if alive "$c"; then echo "$c: running (pid $(pid_of "$c"))"; else echo "$c: not running"; fi
  done
  if ! ready >/dev/null 2>&1; then echo "not ready"; return 1; fi
  echo "ready: https://127.0.0.1:$(cat "$state/api.port") (export KUBECONFIG=$state/kubeconfig)"
  if [ -f "$state/kubelet.cmd" ]; then
    if node_ready >/dev/null 2>&1; then echo "node $node_name: Ready"; else echo "node $node_name: not Ready"; return 1; fi
    echo "registry: $(cat "$state/registry/address") (docker login: $state/registry/config.json)"
  fi
}

# shellcheck source=node.sh
source "$repo/scripts/cluster/node.sh"
# shellcheck source=registry.sh
source "$repo/scripts/cluster/registry.sh"

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  stop) cmd_stop "${2:-}" ;;
  start) cmd_start "${2:-}" ;;
  *) echo "usage: npm run cluster -- up|down|status|stop COMPONENT|start COMPONENT" >&2; exit 2 ;;
esac
