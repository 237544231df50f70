#!/usr/bin/env bash
# Builds krew and validate-krew-manifest from the Go module proxy into the project's cache
# (outside the repo), for the krew install test; a warm call is instant. Prints the directory
# holding both, with a `kubectl-krew` link so kubectl finds krew as its plugin.
#
# v0.4.3 is the newest sigs.k8s.io/krew version the module proxy serves to our build machines.
set -euo pipefail
version="${KREW_VERSION:-v0.4.3}"
cache_root="${KPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-pullsecret}"
out="$cache_root/krew-$version"

if [ -x "$out/krew" ] && [ -x "$out/validate-krew-manifest" ]; then echo "$out"; exit 0; fi

tmp="$out.partial.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
echo "building krew $version and validate-krew-manifest from the Go module proxy" >&2
GOBIN="$tmp" GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 \
  go install -trimpath -ldflags='-s -w' \
  "sigs.k8s.io/krew/cmd/krew@$version" "sigs.k8s.io/krew/cmd/validate-krew-manifest@$version"
ln -s krew "$tmp/kubectl-krew"
rm -rf "$out"
mv "$tmp" "$out"
echo "$out"
