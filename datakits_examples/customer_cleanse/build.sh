#!/usr/bin/env bash
# Build the image platform-datakits/customer-cleanse:1.0.0 on the local Docker engine, with no
# registry: `docker import` of a root file system made of
#   * busybox from Debian's busybox-static (/bin/busybox: sh, echo, ...),
#   * the DuckDB CLI binary from the `duckdb-cli` wheel on PyPI, plus the shared libraries it
#     links (found with ldd and copied to the same paths),
#   * entrypoint.sh and transform.sql of this folder.
# Idempotent: the image carries a label with the hash of its recipe, and a build whose image
# already has that label does nothing. The wheel is cached, so a rebuild needs no download.
#
#   bash datakits_examples/customer_cleanse/build.sh            # IMAGE=... to tag it otherwise
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
IMAGE="${IMAGE:-platform-datakits/customer-cleanse:1.0.0}"
DUCKDB_CLI_VERSION="${DUCKDB_CLI_VERSION:-1.5.6}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
CACHE="${DATAKIT_BUILD_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/airflow-platform/datakit-build}"
LABEL=io.airflow-platform.recipe

log() { echo "[customer-cleanse] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v docker >/dev/null || die "no docker client"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (the duckdb-cli wheel downloaded is for it)"
recipe="$(cat "$here/build.sh" "$here/entrypoint.sh" "$here/transform.sql" \
  <(echo "duckdb-cli $DUCKDB_CLI_VERSION") | sha256sum | cut -c1-16)"

if [ "$(docker image inspect "$IMAGE" --format "{{ index .Config.Labels \"$LABEL\" }}" 2>/dev/null)" = "$recipe" ]; then
  log "$IMAGE is up to date (recipe $recipe)"
  exit 0
fi

[ -x "$BUSYBOX" ] || die "$BUSYBOX is missing (apt-get install busybox-static)"

# --- the DuckDB CLI, from its wheel (cached) -------------------------------------------------
wheel_dir="$CACHE/duckdb-cli-$DUCKDB_CLI_VERSION"
duckdb_bin="$wheel_dir/duckdb_cli/duckdb"
if [ ! -x "$duckdb_bin" ]; then
  python=""
  for candidate in "${PYTHON:-}" "$repo/.venv/tools/bin/python" python3; do
    if [ -n "$candidate" ] && "$candidate" -m pip --version >/dev/null 2>&1; then python="$candidate"; break; fi
  done
  [ -n "$python" ] || die "no Python with pip to download the duckdb-cli wheel"
  download="$(mktemp -d)"
  trap 'rm -rf "$download"' EXIT
  log "downloading duckdb-cli $DUCKDB_CLI_VERSION"
  "$python" -m pip download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version 3.11 -d "$download" "duckdb-cli==$DUCKDB_CLI_VERSION" >&2
  mkdir -p "$wheel_dir.tmp"
  "$python" -m zipfile -e "$download"/duckdb_cli-*.whl "$wheel_dir.tmp"
  chmod 755 "$wheel_dir.tmp/duckdb_cli/duckdb"
  rm -rf "$wheel_dir"
  mv "$wheel_dir.tmp" "$wheel_dir"
fi

# --- the root file system ------------------------------------------------------------------------
root="$(mktemp -d)"
trap 'rm -rf "$root" "${download:-}"' EXIT
mkdir -p "$root/bin" "$root/usr/local/bin" "$root/kit" "$root/datakit/inputs" "$root/datakit/outputs" "$root/tmp"
chmod 1777 "$root/tmp"
chmod 777 "$root/datakit/outputs"
cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$BUSYBOX" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
cp "$duckdb_bin" "$root/usr/local/bin/duckdb"
# Shared libraries (and the dynamic loader) of both binaries, at the paths ldd resolves them to.
for binary in "$BUSYBOX" "$duckdb_bin"; do
  libs="$(ldd "$binary" 2>/dev/null | grep -oE '/[^ ]+' || true)"  # none for a static busybox
  for lib in $libs; do
    [ -e "$lib" ] || continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
done
install -m 755 "$here/entrypoint.sh" "$root/kit/entrypoint.sh"
install -m 644 "$here/transform.sql" "$root/kit/transform.sql"

log "importing $IMAGE (recipe $recipe)"
tar -C "$root" --numeric-owner --owner=0 --group=0 -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/bin' \
  --change 'ENV HOME=/tmp' \
  --change 'WORKDIR /tmp' \
  --change 'ENTRYPOINT ["/bin/sh", "/kit/entrypoint.sh"]' \
  --change "LABEL $LABEL=$recipe" \
  --change 'LABEL org.opencontainers.image.title=customer-cleanse org.opencontainers.image.version=1.0.0' \
  - "$IMAGE" >/dev/null
log "built $IMAGE"
