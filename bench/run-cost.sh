#!/bin/sh
# The fixed cost of a RUN step (sandbox up, `true`, layer committed or found
# empty): a build of N `RUN true` steps minus a build of none, divided by N.
# usage: bench/run-cost.sh [N]   (as root: runs as `builder`; KILN=build/kiln;
#        FLAGS="--network=none" adds build flags, e.g. to leave out the network helper)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$here/build/kiln}
N=${1:-50}
FLAGS=${FLAGS:-}
sh "$here/tests/setup-builder.sh"
W=/tmp/kiln-runcost-$$
mkdir -p "$W/none" "$W/many"
trap 'rm -rf "$W"' EXIT
"$here/testdata/make-busybox-rootfs.sh" "$W/bb.tar"
echo "FROM busybox:1" >"$W/none/Dockerfile"
{ echo "FROM busybox:1"; i=0; while [ $i -lt "$N" ]; do echo "RUN true # $i"; i=$((i+1)); done; } >"$W/many/Dockerfile"
chown -R builder: "$W"
as() { runuser -u builder -- env HOME="$W" KILN_ROOT="$W/store" XDG_RUNTIME_DIR=/run/user/$(id -u builder) "$@"; }
as "$KILN" import "$W/bb.tar" busybox:1 >/dev/null
# shellcheck disable=SC2086
as "$KILN" build -q --no-cache $FLAGS "$W/many" >/dev/null # warm the snapshot
# shellcheck disable=SC2086
t() { s=$(date +%s%N); as "$KILN" build -q --no-cache $FLAGS "$1" >/dev/null; e=$(date +%s%N); echo $(((e - s) / 1000)); }
best_none=999999999 best_many=999999999
for i in 1 2 3; do
	a=$(t "$W/none"); [ "$a" -lt "$best_none" ] && best_none=$a
	b=$(t "$W/many"); [ "$b" -lt "$best_many" ] && best_many=$b
done
echo "builds: none ${best_none}us, $N RUN steps ${best_many}us (best of 3)"
echo "fixed cost of a RUN step: $(((best_many - best_none) / N)) us"
