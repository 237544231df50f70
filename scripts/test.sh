#!/usr/bin/env bash
# The whole test suite: type-check, bundle, then unit and integration tests in one node:test run
# against a real local control plane (started here unless one is already up, and stopped again
# even when tests fail or the run is interrupted).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== type-check"
npx tsc --noEmit
echo "== build"
node scripts/build.mjs

started_cluster=""
cleanup() {
  if [ -n "$started_cluster" ]; then
    echo "== stopping the local cluster"
    bash scripts/cluster/cluster.sh down || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if bash scripts/cluster/cluster.sh status >/dev/null 2>&1; then
  echo "== using the local cluster that is already up"
else
  echo "== starting the local cluster"
  started_cluster=yes
  bash scripts/cluster/cluster.sh up >/dev/null
fi
export KPS_TEST_CLUSTER_DIR="$PWD/.cluster"

echo "== tests"
# One run for unit and integration tests, so the closing summary counts them all. Test files
# run one at a time: integration tests share one API server and are isolated by namespace.
# (Node 20's --test takes no globs, hence find.)
mapfile -t test_files < <(find tests/unit tests/integration tests/e2e -name '*.test.ts' | sort)
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${test_files[@]}" "$@"
