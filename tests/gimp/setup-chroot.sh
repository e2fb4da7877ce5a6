#!/usr/bin/env bash
# Provides a Debian trixie chroot with GIMP 3 and its Python bindings, for tests/test_gimp.py.
#
# GIMP 3 with Python plug-ins only exists from Debian trixie on, while the CI host is older,
# so the tests run GIMP inside a chroot. Building it takes about a minute and ~700 MB of
# downloads; the finished tree is cached as a zstd archive so later runs just unpack it.
#
# Idempotent: an existing, working chroot is left alone; otherwise it is unpacked from the
# cache, or built and then cached. Needs root (debootstrap, chroot).
#
# Environment:
#   IMPASTO_GIMP_CHROOT   where the tree goes           (default /tmp/impasto-trixie)
#   IMPASTO_CI_CACHE      where the archive is kept     (default ~/.cache/impasto-ci)
#   IMPASTO_DEBIAN_MIRROR the Debian mirror to use      (default http://deb.debian.org/debian)
#   IMPASTO_REBUILD=1     ignore the tree and the cache and build afresh
set -euo pipefail

ROOT="${IMPASTO_GIMP_CHROOT:-/tmp/impasto-trixie}"
CACHE_DIR="${IMPASTO_CI_CACHE:-$HOME/.cache/impasto-ci}"
ARCHIVE="$CACHE_DIR/trixie-gimp.tar.zst"
MIRROR="${IMPASTO_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# xvfb and xdotool let the test open the plug-in's dialog on a virtual display and click it.
PACKAGES=(gimp python3 python3-gi gir1.2-gimp-3.0 gir1.2-gegl-0.4 xvfb xauth xdotool)
MARKER=.impasto-ready  # holds the package list the tree was made with

say() { printf 'setup-chroot: %s\n' "$*" >&2; }

# The chroot counts as ready only once GIMP, its typelibs and Python's gi all load, so a
# half-finished tree from an interrupted run is rebuilt rather than trusted.
ready() {
    [ -x "$ROOT/usr/bin/gimp-console-3.0" ] &&
        [ -f "$ROOT/$MARKER" ] &&
        chroot "$ROOT" /usr/bin/python3 -c \
            "import gi; gi.require_version('Gimp', '3.0'); gi.require_version('Gegl', '0.4')" \
            >/dev/null 2>&1
}

# Whether the tree has every package of today's list (a cached tree may predate an addition).
complete() {
    [ "$(cat "$ROOT/$MARKER" 2>/dev/null)" = "${PACKAGES[*]}" ]
}

install_packages() {  # $1: the tree
    chroot "$1" apt-get update -qq
    chroot "$1" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >"$CACHE_DIR/apt.log" 2>&1 || {
        tail -n 30 "$CACHE_DIR/apt.log" >&2
        exit 1
    }
    chroot "$1" apt-get clean
    rm -rf "$1/var/lib/apt/lists/"*
    echo "${PACKAGES[*]}" >"$1/$MARKER"
}

cache_tree() {
    say "caching the tree as $ARCHIVE"
    tar --zstd -cpf "$ARCHIVE.partial" -C "$ROOT" --one-file-system --exclude=./tmp/* .
    mv "$ARCHIVE.partial" "$ARCHIVE"
}

if [ "$(id -u)" -ne 0 ]; then
    say "must run as root (debootstrap and chroot need it)"
    exit 2
fi

mkdir -p "$CACHE_DIR"
# Two CI jobs on one machine must not build or unpack into the same tree at once.
exec 9>"$CACHE_DIR/trixie-gimp.lock"
flock 9

if [ "${IMPASTO_REBUILD:-}" = 1 ]; then
    say "IMPASTO_REBUILD=1: removing $ROOT and $ARCHIVE"
    rm -rf --one-file-system "$ROOT" "$ARCHIVE"
fi

if ready && complete; then
    say "$ROOT is ready ($(chroot "$ROOT" gimp-console-3.0 --version 2>/dev/null | head -n1))"
    exit 0
fi

start=$SECONDS
if [ -d "$ROOT" ] && ! ready; then
    say "removing the incomplete tree $ROOT"
    rm -rf --one-file-system "$ROOT"
fi

if [ -d "$ROOT" ]; then
    : # a working tree that lacks packages: topped up below
elif [ -s "$ARCHIVE" ]; then
    say "unpacking the cached tree $ARCHIVE into $ROOT"
    mkdir -p "$ROOT"
    tar --zstd -xpf "$ARCHIVE" -C "$ROOT"
else
    missing=()
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v zstd >/dev/null || missing+=(zstd)
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]} on the host"
        # Other jobs may hold the host's dpkg lock for a while: wait for it instead of failing.
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
            --no-install-recommends "${missing[@]}" >/dev/null
    fi
    build="$ROOT.building"
    rm -rf --one-file-system "$build"
    say "debootstrapping a minimal trixie into $build from $MIRROR"
    debootstrap --variant=minbase trixie "$build" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 || {
        tail -n 30 "$CACHE_DIR/debootstrap.log" >&2
        exit 1
    }
    say "installing ${PACKAGES[*]} into the chroot"
    install_packages "$build"
    mv "$build" "$ROOT"
    cache_tree
fi

if ready && ! complete; then
    say "adding missing packages to $ROOT (it was made with: $(cat "$ROOT/$MARKER"))"
    install_packages "$ROOT"
    cache_tree
fi

if ! ready; then
    say "the chroot at $ROOT does not start GIMP's Python; rerun with IMPASTO_REBUILD=1"
    exit 1
fi
say "$ROOT is ready after $((SECONDS - start)) s ($(chroot "$ROOT" gimp-console-3.0 --version 2>/dev/null | head -n1))"
