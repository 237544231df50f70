#!/usr/bin/env bash
# The plugin's main job on a throwaway local cluster: brings the cluster up (building it the
# first time), then runs the plugin through kubectl as a user would and shows each step.
# `npm run cluster -- down` removes the cluster afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

node scripts/build.mjs >/dev/null
eval "$(bash scripts/cluster/cluster.sh up)"
export PATH="$PWD/dist:$PATH"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step kubectl pullsecret version
step kubectl pullsecret list -A

printf '\nThe cluster is still up: export KUBECONFIG=%s\nRemove it with: npm run cluster -- down\n' "$KUBECONFIG"
