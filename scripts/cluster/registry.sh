# The local cluster's registries, sourced by cluster.sh: two instances of Debian's
# `docker-registry` (the CNCF distribution registry) on 127.0.0.1, TLS with the cluster CA.
#   sandbox-registry   open: holds the pause image, which containerd pulls without credentials
#   registry           private, htpasswd (bcrypt) users: holds the images the pods pull
# `up` writes the registry user's login to $state/registry/config.json in the format `docker
# login` writes, and the address to $state/registry/address.
#
# Images are built here as OCI images without a container daemon (scripts/images) and pushed.

registry_user=puller

registry_write_config() { # name, port, auth: open|htpasswd
  local dir="$state/$1"
  mkdir -p "$dir/storage"
  {
    echo "version: 0.1"
    echo "log:"
    echo "  level: warn"
    echo "  accesslog:"
    echo "    disabled: true"
    echo "storage:"
    echo "  filesystem:"
    echo "    rootdirectory: $dir/storage"
    echo "http:"
    echo "  addr: 127.0.0.1:$2"
    echo "  tls:"
    echo "    certificate: $state/pki/registry.crt"
    echo "    key: $state/pki/registry.key"
    echo "health:"
    echo "  storagedriver:"
    echo "    enabled: false"
    if [ "$3" = htpasswd ]; then
      echo "auth:"
      echo "  htpasswd:"
      echo "    realm: kubectl-pullsecret-local"
      echo "    path: $dir/htpasswd"
    fi
  } > "$dir/registry.yml"
}

registry_answers() { # port: any HTTP answer from /v2/ (401 included) means it serves
  curl -s -o /dev/null --max-time 2 --cacert "$state/pki/ca.crt" "https://127.0.0.1:$1/v2/"
}

# Starts both registries and writes the private one's users and login.
registries_start() {
  command -v docker-registry >/dev/null || die "the local registry needs docker-registry (apt-get install docker-registry)"
  command -v htpasswd >/dev/null || die "the local registry needs htpasswd (apt-get install apache2-utils)"
  local sandbox_port private_port
  sandbox_port=$(free_port); private_port=$(free_port)
  registry_write_config sandbox-registry "$sandbox_port" open
  registry_write_config registry "$private_port" htpasswd
  echo "127.0.0.1:$sandbox_port" > "$state/sandbox-registry/address"
  echo "127.0.0.1:$private_port" > "$state/registry/address"

  # The password never reaches argv: htpasswd reads it on stdin, the login file is 0600.
  # 33 characters: "puller:" and the password then make a login whose base64 ends in padding,
  # which the e2e tests leave off to show what the kubelet accepts.
  local password
  password=$(openssl rand -hex 17 | cut -c1-33)
  (umask 077; printf '%s' "$password" > "$state/registry/password")
  printf '%s' "$password" | htpasswd -Bni "$registry_user" > "$state/registry/htpasswd" 2>/dev/null
  local auth
  auth=$(printf '%s:%s' "$registry_user" "$password" | base64 -w0)
  (umask 077; printf '{\n\t"auths": {\n\t\t"127.0.0.1:%s": {\n\t\t\t"auth": "%s"\n\t\t}\n\t}\n}\n' "$private_port" "$auth" > "$state/registry/config.json")

  start sandbox-registry docker-registry serve "$state/sandbox-registry/registry.yml"
  start registry docker-registry serve "$state/registry/registry.yml"
  wait_for "the sandbox registry" registry_answers "$sandbox_port"
  wait_for "the private registry" registry_answers "$private_port"
}

# Builds and pushes the images the node and the tests pull: pause to the open registry, the
# test image (busybox) to the private one.
registries_push_images() {
  local images=(node --import tsx "$repo/scripts/images/test-images.ts" --ca "$state/pki/ca.crt")
  "${images[@]}" --registry "$(cat "$state/sandbox-registry/address")" --image pause --tag 1 >/dev/null
  "${images[@]}" --registry "$(cat "$state/registry/address")" --image busybox --tag 1 \
    --username "$registry_user" --password-file "$state/registry/password" >/dev/null
}
