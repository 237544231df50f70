# The local cluster's worker node, sourced by cluster.sh: containerd 2 with runc, the CNI bridge,
# a kubelet that joins as system:node:localhost (Node authorizer + NodeRestriction), and
# kube-proxy (nftables) for the Services' ClusterIPs, all with their state under $state/node.
# Functions only; cluster.sh calls them.
#
# What this machine needs of them (see the README's "The local cluster"):
# - the host runs cgroup v1 and has no systemd: kubelet `failCgroupV1: false`, cgroupfs driver;
# - root lacks CAP_SYS_RESOURCE: containerd `restrict_oom_score_adj` (else every sandbox fails
#   writing oom_score_adj);
# - there is no route out: containerd may only pull from the cluster's own registries, so every
#   other registry host is sent to a closed port on 127.0.0.1 (certs.d/_default) and nothing is
#   ever looked up in DNS; pods get no resolv.conf from the host.
# - kube-proxy may not change the machine's conntrack sysctls (no CAP_SYS_RESOURCE, and the
#   machine is shared): every conntrack setting is 0, "leave it as it is".
#
# Some paths are fixed whatever the flags (shim sockets, the CNI result cache, container log
# links): `node_teardown` removes only what this node made there.

node_name=localhost     # the API server dials a kubelet by its Hostname address first
bridge=kps0
pod_subnet=10.88.0.0/24
node_gateway=10.88.0.1  # the host's address on the bridge (CNI isGateway): pods' default route
cni_network=kubectl-pullsecret
# One node per machine: the bridge, the kubepods cgroups, the netfilter tables and the fixed paths
# are machine-wide.
node_owner_file=/run/kubectl-pullsecret-node.owner
# The nftables table guarding the API server's port (node_apiserver_firewall), and the tables
# kube-proxy's nftables mode makes (fixed names).
firewall_table="inet kubectl-pullsecret"
proxy_tables=("ip kube-proxy" "ip6 kube-proxy")

node_dir() { echo "$state/node"; }

# Refuses to start a second node on this machine (the first one's state folder is named).
node_claim() {
  if [ -f "$node_owner_file" ]; then
    local owner; owner=$(cat "$node_owner_file")
    if [ "$owner" != "$state" ] && [ -d "$owner/node" ]; then
      die "another local cluster's node runs on this machine ($owner): stop it first (KPS_CLUSTER_DIR=$owner npm run cluster -- down), or start this cluster without a node (KPS_CLUSTER_NODE=none)"
    fi
  fi
  echo "$state" > "$node_owner_file"
}

node_pki() { # the node's and the registries' certificates, beside the control plane's
  local pki="$state/pki"
  (
    cd "$pki"
    # The kubelet's identity as the Node authorizer and NodeRestriction expect it.
    sign kubelet "/O=system:nodes/CN=system:node:$node_name" "extendedKeyUsage=clientAuth"
    # The API server's identity towards kubelets (logs, exec); system:masters passes the
    # kubelet's webhook authorization.
    sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth"
    # kube-proxy's identity: the bootstrap RBAC binds system:node-proxier to this user.
    sign kube-proxy "/CN=system:kube-proxy" "extendedKeyUsage=clientAuth"
    # The registries' TLS certificate, signed by the cluster CA that containerd is told to trust.
    sign registry "/CN=kubectl-pullsecret-registry" \
      "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
  )
}

node_write_containerd_config() { # bin, sandbox image, registry hosts...
  local bin=$1 sandbox_image=$2; shift 2
  local dir; dir=$(node_dir)
  mkdir -p "$dir/containerd/certs.d/_default" "$dir/cni/conf" "$dir/cni/ipam"
  cat > "$dir/containerd/config.toml" <<EOF
version = 3
root = "$dir/containerd/root"
state = "$dir/containerd/state"
# Plugins that would look for hardware, filesystems or collectors this node does not have.
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
  "io.containerd.nri.v1.nri",
]

[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"

[plugins.'io.containerd.internal.v1.opt']
  path = "$dir/containerd/opt"

[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$bin/runc"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["$bin"]
    conf_dir = "$dir/cni/conf"
    max_conf_num = 1

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$sandbox_image"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "$dir/containerd/certs.d"
EOF
  # Only the cluster's registries are reachable, over TLS with the cluster CA...
  local host
  for host in "$@"; do
    mkdir -p "$dir/containerd/certs.d/$host"
    cat > "$dir/containerd/certs.d/$host/hosts.toml" <<EOF
server = "https://$host"
[host."https://$host"]
  capabilities = ["pull", "resolve"]
  ca = "$state/pki/ca.crt"
EOF
  done
  # ... and any other registry name goes to a closed local port: refused at once, never resolved.
  cat > "$dir/containerd/certs.d/_default/hosts.toml" <<EOF
server = "https://127.0.0.1:9"
EOF
  # Pods get one route off the bridge, to the Services' range through the host (where kube-proxy
  # turns a ClusterIP into an endpoint); no default route: nothing else is theirs to reach.
  cat > "$dir/cni/conf/10-$cni_network.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$cni_network",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$pod_subnet" }]],
        "routes": [{ "dst": "$service_range" }],
        "dataDir": "$dir/cni/ipam"
      }
    },
    { "type": "loopback" }
  ]
}
EOF
}

node_write_kubelet_config() { # kubelet port, healthz port
  local dir; dir=$(node_dir)
  mkdir -p "$dir/kubelet" "$dir/pod-logs"
  write_kubeconfig "$dir/kubelet.kubeconfig" kubelet kubelet
  cat > "$dir/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $1
healthzBindAddress: 127.0.0.1
healthzPort: $2
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $state/pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$dir/containerd.sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
podLogsDir: $dir/pod-logs
# No DNS for pods: the host's resolver is not ours to send queries to.
resolvConf: ""
serializeImagePulls: false
nodeStatusUpdateFrequency: 2s
EOF
}

# The node's firewall, added before the API server starts, removed by node_apiserver_firewall_down:
# - with a node the API server binds every address (pods reach it on the bridge's): its port is
#   dropped on every interface but the loopback and the bridge, so the machine's other
#   interfaces never serve it;
# - nothing is forwarded between the bridge and any other interface. The CNI bridge plugin turns
#   on IPv4 forwarding (isGateway), and pods route the Services' range through the host: a packet
#   to a ClusterIP that kube-proxy does not (or no longer) translate must die here, not leave by
#   the host's default route; nor may another network reach the pods through this host.
node_apiserver_firewall() { # port
  command -v nft >/dev/null || die "the local node needs nft (apt-get install nftables)"
  echo "$firewall_table" > "$state/firewall.table"
  nft delete table $firewall_table 2>/dev/null || true
  nft -f - <<EOF || die "could not add the nftables table that guards the API server's port"
table $firewall_table {
  chain input {
    type filter hook input priority filter - 10; policy accept;
    tcp dport $1 iifname != { "lo", "$bridge" } counter drop
  }
  chain forward {
    type filter hook forward priority filter - 10; policy accept;
    iifname "$bridge" oifname != "$bridge" counter drop
    oifname "$bridge" iifname != "$bridge" counter drop
  }
}
EOF
}

node_apiserver_firewall_down() {
  [ -f "$state/firewall.table" ] || return 0
  nft delete table $firewall_table 2>/dev/null || true
  rm -f "$state/firewall.table"
}

# kube-proxy in nftables mode: the Services' ClusterIPs (the "kubernetes" one to the API
# server's bridge address) for pods and for the host. NodePorts only on the bridge address;
# health and metrics on 127.0.0.1.
node_start_proxy() { # k8s bin dir
  local kbin=$1 dir; dir=$(node_dir)
  command -v nft >/dev/null || die "kube-proxy needs nft (apt-get install nftables)"
  write_kubeconfig "$dir/kube-proxy.kubeconfig" kube-proxy kube-proxy
  local healthz_port; healthz_port=$(free_port)
  echo "$healthz_port" > "$dir/kube-proxy.healthz.port"
  cat > "$dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection:
  kubeconfig: $dir/kube-proxy.kubeconfig
hostnameOverride: $node_name
clusterCIDR: $pod_subnet
detectLocalMode: ClusterCIDR
nodePortAddresses: ["$node_gateway/32"]
healthzBindAddress: 127.0.0.1:$healthz_port
metricsBindAddress: 127.0.0.1:$(free_port)
# Lowering its OOM score needs CAP_SYS_RESOURCE; 0 leaves it as it is.
oomScoreAdj: 0
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
  udpTimeout: 0s
  udpStreamTimeout: 0s
nftables:
  minSyncPeriod: 0s
logging:
  verbosity: 1
EOF
  start kube-proxy "$kbin/kube-proxy" --config="$dir/kube-proxy.yaml"
  # 200 once it has written the rules for the Services it knows (the "kubernetes" one at least).
  wait_for "kube-proxy's first sync" curl -sf --max-time 2 "http://127.0.0.1:$healthz_port/healthz"
}

# Removes the netfilter state the node's parts made: kube-proxy's tables, and the chains the
# kubelet keeps when an iptables command is installed (KUBE-IPTABLES-HINT, KUBE-FIREWALL and its
# jumps, KUBE-KUBELET-CANARY), then the iptables-nft tables that did not exist before the node
# started and are empty now. Touches only tables that exist: an iptables command on a missing
# table would create it.
node_netfilter_cleanup() {
  local dir; dir=$(node_dir)
  command -v nft >/dev/null || return 0
  local table
  for table in "${proxy_tables[@]}"; do nft delete table $table 2>/dev/null || true; done
  local family ipt chain name
  for family in ip ip6; do
    ipt=iptables; [ "$family" = ip ] || ipt=ip6tables
    command -v "$ipt" >/dev/null || continue
    if nft list table "$family" filter >/dev/null 2>&1; then
      for chain in INPUT OUTPUT; do
        while "$ipt" -w 5 -t filter -D "$chain" -j KUBE-FIREWALL 2>/dev/null; do :; done
      done
    fi
    for table in filter nat mangle; do
      nft list table "$family" "$table" >/dev/null 2>&1 || continue
      for name in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
        "$ipt" -w 5 -t "$table" -F "$name" 2>/dev/null && "$ipt" -w 5 -t "$table" -X "$name" 2>/dev/null || true
      done
      # Left by us, and nothing in it but empty built-in chains: remove it.
      if ! grep -qx "table $family $table" "$dir/nft-tables.before" 2>/dev/null &&
        ! nft list table "$family" "$table" | grep -qvE '^[[:space:]]*(table .*\{|chain .*\{|type .*|\}|)$'; then
        nft delete table "$family" "$table" 2>/dev/null || true
      fi
    done
  done
}

node_ready() {
  api_get "/api/v1/nodes/$node_name" | node -e '
    let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => {
      const n = JSON.parse(s);
      const ready = (n.status.conditions || []).some((c) => c.type === "Ready" && c.status === "True");
      const notReadyTaint = (n.spec.taints || []).some((t) => t.key.startsWith("node.kubernetes.io/"));
      process.exit(ready && !notReadyTaint ? 0 : 1);
    });'
}

node_start() { # k8s bin dir, node bin dir
  local kbin=$1 nbin=$2 dir; dir=$(node_dir)
  node_claim
  # The netfilter tables there are before the node's parts make theirs (node_netfilter_cleanup),
  # and IPv4 forwarding, which the CNI bridge plugin turns on (node_teardown puts it back).
  nft list tables > "$dir/nft-tables.before" 2>/dev/null || true
  cat /proc/sys/net/ipv4/ip_forward > "$dir/ip_forward.before"
  # containerd finds its shim on PATH; the CNI plugins come from bin_dirs.
  start containerd env "PATH=$nbin:$PATH" "$nbin/containerd" --config "$dir/containerd/config.toml"
  wait_for "containerd" test -S "$dir/containerd.sock"
  wait_for "containerd's CRI" "$nbin/crictl" --runtime-endpoint "unix://$dir/containerd.sock" --timeout 2s info
  start kubelet "$kbin/kubelet" \
    --config="$dir/kubelet/config.yaml" \
    --kubeconfig="$dir/kubelet.kubeconfig" \
    --root-dir="$dir/kubelet/root" \
    --cert-dir="$dir/kubelet/pki" \
    --hostname-override="$node_name" \
    --v=1
}

# Stops the kubelet, every pod and container, containerd, and removes what they made outside
# the state folder; safe to call when parts of the node never started.
node_teardown() {
  local dir; dir=$(node_dir)
  [ -d "$dir" ] || return 0
  stop_component kube-proxy
  stop_component kubelet
  node_netfilter_cleanup
  local nbin; nbin=$(cat "$state/nodebin.path" 2>/dev/null || true)
  if [ -n "$nbin" ] && alive containerd && [ -S "$dir/containerd.sock" ]; then
    "$nbin/crictl" --runtime-endpoint "unix://$dir/containerd.sock" --timeout 10s rmp -fa >/dev/null 2>&1 || true
  fi
  stop_component containerd
  # Shims outlive containerd by design; they name our socket in their argv.
  pkill -TERM -f "containerd-shim-runc-v2 .*$dir/" 2>/dev/null || true
  local cg pid
  for cg in /sys/fs/cgroup/*/kubepods; do
    [ -d "$cg" ] || continue
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done < <(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)
  done
  sleep 0.2
  pkill -KILL -f "containerd-shim-runc-v2 .*$dir/" 2>/dev/null || true
  for cg in /sys/fs/cgroup/*/kubepods; do
    [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  # Every mount under the state folder (the kubelet's bind mounts, overlay rootfs, shm, netns),
  # deepest first.
  local mount_point
  while read -r mount_point; do
    umount -l "$mount_point" 2>/dev/null || true
  done < <(awk -v prefix="$state/" 'index($5, prefix) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  ip link del "$bridge" 2>/dev/null || true
  if [ "$(cat "$dir/ip_forward.before" 2>/dev/null)" = 0 ]; then
    echo 0 > /proc/sys/net/ipv4/ip_forward 2>/dev/null || true
  fi
  rm -f /var/lib/cni/results/"$cni_network"-* 2>/dev/null || true
  local link
  for link in /var/log/containers/*.log; do
    [ -L "$link" ] && case "$(readlink "$link")" in "$dir"/*) rm -f "$link" ;; esac
  done
  # The kubelet's device-plugin socket is at a fixed path whatever --root-dir says.
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock
  # Left only if empty: another runtime or kubelet on this machine keeps its own.
  local fixed
  for fixed in /var/lib/cni/results /var/lib/cni /var/log/containers /run/containerd/s \
    /run/containerd/runc/k8s.io /run/containerd/runc /run/containerd \
    /var/lib/kubelet/device-plugins /var/lib/kubelet; do
    rmdir "$fixed" 2>/dev/null || true
  done
  [ "$(cat "$node_owner_file" 2>/dev/null)" != "$state" ] || rm -f "$node_owner_file"
}
