#!/usr/bin/env bash
# The plugin's main job on a throwaway local cluster: brings the cluster up (building it the
# first time) with its worker node and password-protected registry, shows a pod that cannot pull
# from that registry, explains it with `doctor`, fixes it with `kubectl pullsecret add`, and ends
# with the pod Running, running the plugin through kubectl as a user would. `npm run cluster -- down` removes it all.
set -euo pipefail
cd "$(dirname "$0")/.."

node scripts/build.mjs >/dev/null
eval "$(bash scripts/cluster/cluster.sh up)"
export PATH="$PWD/dist:$PATH"
registry=$(cat .cluster/registry/address)
image="$registry/busybox:1"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
say() { printf '\n'; printf '# %s\n' "$@"; }

# Waits until every pod of deployment/web is in one of the given states (its container's waiting
# reason, or the time it started running), bounded.
wait_for_pods() { # namespace, states (regex)
  local i state
  for i in $(seq 1 150); do
    state=$(kubectl get pods -n "$1" -l app=web -o jsonpath='{range .items[*]}{.status.containerStatuses[0].state.waiting.reason}{.status.containerStatuses[0].state.running.startedAt}{"\n"}{end}' 2>/dev/null)
    if [ -n "$state" ] && ! echo "$state" | grep -Evq "$2"; then return 0; fi
    sleep 0.2
  done
  echo "demo: timed out waiting for the pods in $1 (states: $state)" >&2
  return 1
}

namespace="demo-$(date +%s)"
say "A local cluster with one real node, and a private registry at $registry" \
  "that holds $image behind a password."
step kubectl get nodes
step kubectl create namespace "$namespace"

say "A Deployment of the private image. Nothing gives its pod credentials: the registry refuses."
step kubectl create deployment web -n "$namespace" --image="$image"
wait_for_pods "$namespace" 'ErrImagePull|ImagePullBackOff'
step kubectl get pods -n "$namespace"
kubectl get events -n "$namespace" --field-selector reason=Failed -o jsonpath='{.items[0].message}{"\n"}' | cut -c1-220

say "doctor says why, decided as the kubelet decides, and what fixes it."
step kubectl pullsecret doctor -n "$namespace" || true

say "Create a pull secret from the registry user's docker login (the password never goes on the" \
  "command line) and attach it to the namespace's ServiceAccounts."
step kubectl pullsecret add regcred -n "$namespace" --from-docker-config .cluster/registry/config.json

say "Running it again changes nothing."
step kubectl pullsecret add regcred -n "$namespace" --from-docker-config .cluster/registry/config.json
step kubectl pullsecret list -n "$namespace" -o wide

say "The pod that failed was created before the secret: a pod's list is fixed when it is created." \
  "A new pod gets the secret from its ServiceAccount."
step kubectl rollout restart deployment/web -n "$namespace"
step kubectl rollout status deployment/web -n "$namespace" --timeout=60s
wait_for_pods "$namespace" '^[0-9T:-]+Z$' # the old pod gone, the new one running
step kubectl get pods -n "$namespace" -o wide
step kubectl pullsecret doctor deployment/web -n "$namespace"

say "The pod runs, pulled from the private registry with the secret the plugin made."
step kubectl get pods -n "$namespace"

printf '\nThe cluster is still up: export KUBECONFIG=%s\n' "$KUBECONFIG"
printf 'Undo it exactly: kubectl pullsecret remove regcred -n %s\n' "$namespace"
printf 'Try it yourself: kubectl pullsecret add regcred -n default --from-docker-config .cluster/registry/config.json\n'
printf 'Remove the cluster with: npm run cluster -- down\n'
