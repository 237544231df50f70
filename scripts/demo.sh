#!/usr/bin/env bash
# The plugin's main job on a throwaway local cluster: brings the cluster up (building it the
# first time), then walks through add, list, a pod that receives the secret, and remove, running
# the plugin through kubectl as a user would. `npm run cluster -- down` removes the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

node scripts/build.mjs >/dev/null
eval "$(bash scripts/cluster/cluster.sh up)"
export PATH="$PWD/dist:$PATH"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
say() { printf '\n# %s\n' "$*"; }

namespace="demo-$(date +%s)"
say "A fresh namespace; its default ServiceAccount appears a moment later."
step kubectl create namespace "$namespace"

say "Create a pull secret from a login (the password comes on stdin, never on the command line)"
say "and attach it to the namespace's default ServiceAccount."
printf '\n\033[1m$ printf %%s "$REGISTRY_PASSWORD" | kubectl pullsecret add regcred -n %s --server registry.example:5000 --username demo --password-stdin\033[0m\n' "$namespace"
REGISTRY_PASSWORD="demo-only-password"
printf '%s' "$REGISTRY_PASSWORD" | kubectl pullsecret add regcred -n "$namespace" --server registry.example:5000 --username demo --password-stdin

say "Running it again changes nothing."
printf '%s' "$REGISTRY_PASSWORD" | kubectl pullsecret add regcred -n "$namespace" --server registry.example:5000 --username demo --password-stdin

step kubectl pullsecret list -n "$namespace" -o wide

say "A pod created now gets the secret from its ServiceAccount (this cluster has no nodes: it stays Pending)."
kubectl run web -n "$namespace" --image=registry.example:5000/team/web:1 --restart=Never >/dev/null
step kubectl get pod web -n "$namespace" -o jsonpath='{.spec.imagePullSecrets}{"\n"}'

say "remove is the exact undo: detach from every ServiceAccount, delete the secret we manage."
step kubectl pullsecret remove regcred -n "$namespace"
step kubectl get serviceaccount default -n "$namespace" -o jsonpath='{.imagePullSecrets}{"\n"}'
say "The pod still names the secret, which is now gone: list reports the dangling reference."
step kubectl pullsecret list -n "$namespace"

kubectl delete namespace "$namespace" --wait=false >/dev/null
printf '\nThe cluster is still up: export KUBECONFIG=%s\nRemove it with: npm run cluster -- down\n' "$KUBECONFIG"
