# The local cluster's worker node, sourced by cluster.sh: containerd 2 with runc, the CNI bridge,
# and a kubelet that joins as system:node:localhost (Node authorizer + NodeRestriction), all with
# their state under $state/node. Functions only; cluster.sh calls them.
#
# What this machine needs of them (see the README's "The local cluster"):
# - the host runs cgroup v1 and has no systemd: kubelet `failCgroupV1: false`, cgroupfs driver;
# - root lacks CAP_SYS_RESOURCE: containerd `restrict_oom_score_adj` (else every sandbox fails
#   writing oom_score_adj);
# - there is no route out: containerd may only pull from the cluster's own registries, so every
#   other registry host is sent to a closed port on 127.0.0.1 (certs.d/_default) and nothing is
#   ever looked up in DNS; pods get no resolv.conf from the host.
#
# Some paths are fixed whatever the flags (shim sockets, the CNI result cache, container log
# links): `node_teardown` removes only what this node made there.

node_name=localhost     # the API server dials a kubelet by its Hostname address first
bridge=kps0
pod_subnet=10.88.0.0/24
cni_network=kubectl-pullsecret
# One node per machine: the bridge, the kubepods cgroups and the fixed paths are machine-wide.
node_owner_file=/run/kubectl-pullsecret-node.owner

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
  stop_component kubelet
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
