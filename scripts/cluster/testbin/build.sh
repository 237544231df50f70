#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and etcd
# from the Go module proxy and caches them outside the repo, keyed by this module's go.mod/go.sum
# and etcd main: a warm call is instant. Prints the directory holding the binaries on stdout
# (progress goes to stderr). The node's other parts (containerd, runc, CNI) come from their own
# modules: ../nodebin/build.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
version=$(cat K8S_VERSION)
key=$(cat go.mod go.sum cmd/etcd/main.go build.sh | sha256sum | cut -c1-12)
cache_root="${KPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-pullsecret}"
out="$cache_root/k8s-$version-$key"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy etcd)

have_all() { for b in "${binaries[@]}"; do [ -x "$out/$b" ] || return 1; done; }
if have_all; then echo "$out"; exit 0; fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod -trimpath"
minor="${version#v1.}"; minor="${minor%%.*}"
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

tmp="$out.partial.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
echo "building Kubernetes $version control plane into $out (a cold build takes many minutes)" >&2
echo "  [1/2] downloading modules" >&2
go mod download
echo "  [2/2] compiling ${binaries[*]}" >&2
# One `go build` for all of them shares the compile of the common packages.
go build -ldflags "$ldflags" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubelet \
  k8s.io/kubernetes/cmd/kube-proxy \
  ./cmd/etcd
rm -rf "$out"
mv "$tmp" "$out"
echo "built in $(( $(date +%s) - start ))s" >&2
echo "$out"
