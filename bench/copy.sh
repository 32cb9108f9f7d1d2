#!/bin/sh
# COPY engine benchmark: the 20,000-file tree of ../shared/peers/gen-bigcopy.py,
# copied once into a fresh root, and the COPY content key computed cold (no stat
# cache: every file read and hashed) and warm (stat cache hit: a metadata walk).
# Usage: bench/copy.sh [BUILD_DIR]   (default build/); prints seconds.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
bin=$build/copy/tests/bench-copy
gen=${KILN_PEERS_DIR:-$src/../shared/peers}/gen-bigcopy.py
[ -x "$bin" ] || { echo "bench/copy.sh: build first (ninja -C $build)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/kiln-bench-copy.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 "$gen" "$work/ctx" >/dev/null
# files written in the last 2 s are never trusted from the stat cache (racy mtime)
sleep 2.1
mkdir "$work/root" /dev/shm/kiln-bench-copy.$$
trap 'rm -rf "$work" /dev/shm/kiln-bench-copy.$$' EXIT
sync
echo "copy to disk:           $("$bin" copy "$work/ctx" "$work/root")"
echo "copy to tmpfs:          $("$bin" copy "$work/ctx" /dev/shm/kiln-bench-copy.$$)"
rm -rf /dev/shm/kiln-bench-copy.$$/app
echo "  the same, 1 thread:    $("$bin" copy "$work/ctx" /dev/shm/kiln-bench-copy.$$ 1)"
diff -r "$work/ctx" "$work/root/app" >/dev/null && echo "copy identical:         yes"
echo "digest cold:            $("$bin" digest "$work/ctx" "$work/statcache")"
echo "digest warm:            $("$bin" digest "$work/ctx" "$work/statcache")"
echo "digest warm (again):    $("$bin" digest "$work/ctx" "$work/statcache")"
one=$work/ctx/d00/s00/$(ls "$work/ctx/d00/s00" | head -1)
echo x >> "$one"
touch -d '-1 min' "$one"
echo "one file changed:       $("$bin" digest "$work/ctx" "$work/statcache")"
