#!/usr/bin/env bash
# Build the image from the Dockerfile with whichever engine is here (docker, else podman),
# on the real base image, with the OCI labels filled in. Used by `make image` and
# `make container-test`.
#
# Only where no registry can be reached does it build on a locally made stand-in for the
# base: the shared smoke script beside the clone (../shared/tools/container-smoke.sh, as in
# this project's CI), or CONTAINER_SMOKE=path.
#
# env: IMAGE (tag, default localhost/attache-bot:ci), CONTAINER_WORK (podman storage and
#      scratch, default /tmp/container-smoke), CONTAINER_ENGINE (e.g. "docker" to choose),
#      IMAGE_SOURCE (the source repository's URL for the label; default: git's origin).
# writes: $CONTAINER_WORK/engine, the engine command line (one word a line) that holds the
#      image, for tests/container.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
W=${CONTAINER_WORK:-/tmp/container-smoke}
IMAGE=${IMAGE:-localhost/attache-bot:ci}
mkdir -p "$W"
say() { echo "[container-build] $*"; }

base=$(awk 'toupper($1)=="FROM"{print $2; exit}' "$repo/Dockerfile")
case "$base" in */*) ref=$base ;; *) ref="docker.io/library/$base" ;; esac

version=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$repo/pyproject.toml" | head -1)
revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  revision="$revision-dirty"
fi
source=${IMAGE_SOURCE:-$(git -C "$repo" config --get remote.origin.url 2>/dev/null || true)}
licenses=$(sed -n 's/^license *= *"\([^"]*\)".*/\1/p' "$repo/pyproject.toml" | head -1)
build_args=(
  --build-arg "VERSION=${version:-unknown}"
  --build-arg "REVISION=$revision"
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  --build-arg "SOURCE=${source:-unknown}"
  --build-arg "LICENSES=${licenses:-NOASSERTION}"
)

podman_engine() {
  engine=(podman --root "$W/storage" --runroot "$W/run")
  build_format=(--format docker)  # OCI images drop HEALTHCHECK
  if [ -f "$W/containers.conf" ]; then export CONTAINERS_CONF="$W/containers.conf"; fi
}
build_format=()
if [ -n "${CONTAINER_ENGINE:-}" ]; then
  read -ra engine <<<"$CONTAINER_ENGINE"
  if [ "${engine[0]}" = podman ]; then podman_engine; fi
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  engine=(docker)
elif command -v podman >/dev/null; then
  podman_engine
else
  engine=()
fi

build() {
  say "building $IMAGE ($version, ${revision:0:12}) with ${engine[0]}"
  "${engine[@]}" build "${build_format[@]}" "${build_args[@]}" "$@" -t "$IMAGE" "$repo"
}

if [ ${#engine[@]} -gt 0 ] && timeout 180 "${engine[@]}" pull -q "$ref" >"$W/pull.log" 2>&1; then
  build
elif [ ${#engine[@]} -gt 0 ] && "${engine[@]}" image inspect "$ref" >/dev/null 2>&1; then
  say "no registry reachable; $ref is here already (pulled before, or a stand-in made earlier)"
  build
else
  smoke=${CONTAINER_SMOKE:-$repo/../shared/tools/container-smoke.sh}
  if [ ! -f "$smoke" ]; then
    echo "container-build: cannot pull $ref (see $W/pull.log) and no stand-in script" \
      "at $smoke; install docker or podman with access to a registry" >&2
    exit 2
  fi
  say "no registry reachable: a stand-in for $base made by $smoke"
  WORK=$W IMAGE=$IMAGE BUILDAH_FORMAT=docker bash "$smoke" "$repo" -- attache-bot --version
  podman_engine
  build --pull=never  # again with the labels (the layers come from the cache)
fi
printf '%s\n' "${engine[@]}" >"$W/engine"
"${engine[@]}" run --rm "$IMAGE" --version
size=$("${engine[@]}" image inspect --format '{{.Size}}' "$IMAGE")
say "$IMAGE: $((size / 1048576)) MiB"
