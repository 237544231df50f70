#!/usr/bin/env bash
# Builds one of the project's Go test tools (cmd/NAME of this module: keyring-oracle,
# write-floor) and caches it outside the repo, keyed by its source and this module's
# go.mod/go.sum; a warm call is instant. Prints the binary's path on stdout.
#
#   tool.sh NAME
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
name=${1:?usage: tool.sh NAME}
[ -d "cmd/$name" ] || { echo "tool.sh: no test tool cmd/$name" >&2; exit 2; }
command -v go >/dev/null || { echo "tool.sh: the test tools are built with Go; install it (see go.mod for the version)" >&2; exit 1; }
key=$(cat go.mod go.sum "cmd/$name"/*.go tool.sh | sha256sum | cut -c1-12)
cache_root="${KPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-pullsecret}"
binary="$cache_root/$name-$key/$name"
if [ ! -x "$binary" ]; then
  tmp="$cache_root/$name-$key.partial.$$"
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  # -mod=readonly: the build must not touch go.mod/go.sum, which key the cluster's build cache.
  GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath" go build -o "$tmp/" "./cmd/$name" >&2
  mkdir -p "$(dirname "$binary")"
  mv "$tmp/$name" "$binary"
fi
echo "$binary"
