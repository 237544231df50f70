# The image that runs `kubectl pullsecret sync --watch` in a cluster (the Deployment printed by
# `sync --watch --print-manifests --image ...`). It holds only the standalone linux binary from
# `npm run package`, so build that first:
#
#   npm run package && docker build -t kubectl-pullsecret:0.1.0 .          # or --build-arg TARGETARCH=arm64
#
# No container engine runs on this project's build machines, so CI does not build it.
FROM debian:bookworm-slim
ARG TARGETARCH=amd64
ADD dist/release/kubectl-pullsecret_linux_${TARGETARCH}.tar.gz /opt/kubectl-pullsecret/
# Any non-root user works: the plugin writes nothing to disk and reads the pod's ServiceAccount.
USER 65532:65532
ENTRYPOINT ["/opt/kubectl-pullsecret/kubectl-pullsecret"]
