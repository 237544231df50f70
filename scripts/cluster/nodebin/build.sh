#!/usr/bin/env bash
# Builds the worker node's container runtime from the Go module proxy and caches it outside the
# repo, keyed by this script (which holds every version): containerd and its runc shim, runc, the
# CNI plugins the node's network uses, and crictl (readiness checks and teardown). The kubelet
# itself comes from ../testbin (same k8s.io/kubernetes module as the control plane).
# Prints the directory holding the binaries on stdout (progress goes to stderr).
#
# None of these modules has replace directives, so `go install pkg@version` builds each one with
# its own module graph, as its maintainers release it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

containerd_version=v2.4.2
runc_version=v1.5.3
cni_plugins_version=v1.10.0
crictl_version=v1.37.0

key=$(sha256sum < "$here/build.sh" | cut -c1-12)
cache_root="${KPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-pullsecret}"
out="$cache_root/node-$key"
binaries=(containerd containerd-shim-runc-v2 runc bridge host-local loopback crictl)

have_all() { for b in "${binaries[@]}"; do [ -x "$out/$b" ] || return 1; done; }
if have_all; then echo "$out"; exit 0; fi

# runc's namespace setup (nsexec) is C, and its seccomp support needs libseccomp.
for header in /usr/include/seccomp.h; do
  [ -f "$header" ] || { echo "nodebin: runc needs libseccomp-dev and pkg-config (apt-get install libseccomp-dev pkg-config)" >&2; exit 1; }
done

export GOTOOLCHAIN=local GOFLAGS="-trimpath"
tmp="$out.partial.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
echo "building the node's runtime into $out (containerd $containerd_version, runc $runc_version, CNI $cni_plugins_version)" >&2
install_into() { # cgo, tags, packages...
  local cgo=$1 tags=$2; shift 2
  GOBIN="$tmp" CGO_ENABLED="$cgo" go install -ldflags "-s -w" -tags "$tags" "$@"
}
echo "  [1/4] containerd, containerd-shim-runc-v2" >&2
install_into 0 no_btrfs \
  "github.com/containerd/containerd/v2/cmd/containerd@$containerd_version" \
  "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$containerd_version"
echo "  [2/4] runc" >&2
install_into 1 seccomp "github.com/opencontainers/runc@$runc_version"
echo "  [3/4] CNI plugins" >&2
install_into 0 "" \
  "github.com/containernetworking/plugins/plugins/main/bridge@$cni_plugins_version" \
  "github.com/containernetworking/plugins/plugins/ipam/host-local@$cni_plugins_version" \
  "github.com/containernetworking/plugins/plugins/main/loopback@$cni_plugins_version"
echo "  [4/4] crictl" >&2
install_into 0 "" "sigs.k8s.io/cri-tools/cmd/crictl@$crictl_version"
rm -rf "$out"
mv "$tmp" "$out"
echo "built in $(( $(date +%s) - start ))s" >&2
echo "$out"
