#!/bin/sh
# Push and pull of a 500 MiB random-data image: kiln against `skopeo copy`
# between the same store (an OCI layout) and the same registry, in one run.
# Each timed push starts from an empty registry (restarted, storage wiped);
# each timed pull from an empty destination. Prints hyperfine medians and
# the kiln/skopeo ratios, and the time of a second, unchanged push.
# usage: bench/registry.sh [KILN]   (needs docker-registry, skopeo, hyperfine)
set -eu
KILN=${1:-${KILN:-$(dirname "$0")/../build/kiln}}
KILN=$(realpath "$KILN")
SIZE_MIB=${SIZE_MIB:-500}
RUNS=${RUNS:-3}
W=${BENCH_DIR:-/tmp/kiln-bench-registry}
PORT=${PORT:-5077}
R=127.0.0.1:$PORT
export KILN_ROOT=$W/store

reg_start() {
	mkdir -p "$W/reg/storage"
	cat >"$W/reg/config.yml" <<C
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $W/reg/storage
http:
  addr: $R
C
	docker-registry serve "$W/reg/config.yml" >"$W/reg/log" 2>&1 &
	echo $! >"$W/reg/pid"
	until curl -fsS "http://$R/v2/" >/dev/null 2>&1; do sleep 0.05; done
}

reg_stop() {
	[ -f "$W/reg/pid" ] || return 0
	kill "$(cat "$W/reg/pid")" 2>/dev/null || true
	while kill -0 "$(cat "$W/reg/pid")" 2>/dev/null; do sleep 0.05; done
	rm -f "$W/reg/pid"
}

# An empty registry, and no memory of where blobs went (kiln's mount records,
# skopeo's blob-info cache), so every timed push uploads everything.
reg_reset() {
	reg_stop
	rm -rf "$W/reg/storage" "$KILN_ROOT/registry-sources" "$W/home"
	reg_start
}

case "${2:-}" in
reset) reg_reset; exit 0 ;;
esac

command -v hyperfine >/dev/null && command -v skopeo >/dev/null || { echo "needs hyperfine and skopeo" >&2; exit 77; }
reg_stop
rm -rf "$W"
mkdir -p "$W/data"
head -c "${SIZE_MIB}M" /dev/urandom >"$W/data/random"
tar -C "$W/data" -cf "$W/random.tar" random
rm -rf "$W/data"
"$KILN" import "$W/random.tar" big:1 >/dev/null # gzip, as a build would store it
rm "$W/random.tar"
reg_start
export HOME=$W/home # skopeo's blob-info cache lives here; reset wipes it
self="sh $(realpath "$0") $KILN reset"

hyperfine -r "$RUNS" --export-json "$W/push.json" \
	--prepare "$self" -n "kiln push" "$KILN push -q big:1 $R/bench/big:1" \
	--prepare "$self" -n "skopeo copy (push)" \
	"skopeo copy -q --dest-tls-verify=false oci:$KILN_ROOT:big:1 docker://$R/bench/big:1"

reg_reset
"$KILN" push -q big:1 "$R/bench/big:1" >/dev/null
hyperfine -r 10 -w 1 --export-json "$W/noop.json" -n "kiln push (unchanged)" \
	"$KILN push -q big:1 $R/bench/big:1"

hyperfine -r "$RUNS" --export-json "$W/pull.json" \
	--prepare "rm -rf $W/store2 $W/layout" \
	-n "kiln pull" "KILN_ROOT=$W/store2 $KILN pull -q $R/bench/big:1" \
	-n "skopeo copy (pull)" \
	"skopeo copy -q --src-tls-verify=false docker://$R/bench/big:1 oci:$W/layout:big"
reg_stop

median() { jq -r ".results[] | select(.command == \"$2\") | .median" "$W/$1.json"; }
ratio() { echo "$1 $2" | awk '{printf "%.2f", $1 / $2}'; }
kp=$(median push "kiln push")
sp=$(median push "skopeo copy (push)")
kl=$(median pull "kiln pull")
sl=$(median pull "skopeo copy (pull)")
kn=$(median noop "kiln push (unchanged)")
printf '\n%s MiB image, median of %s runs (seconds)\n' "$SIZE_MIB" "$RUNS"
printf 'push: kiln %.3f  skopeo %.3f  ratio %s\n' "$kp" "$sp" "$(ratio "$kp" "$sp")"
printf 'pull: kiln %.3f  skopeo %.3f  ratio %s\n' "$kl" "$sl" "$(ratio "$kl" "$sl")"
printf 'unchanged push: kiln %.3f\n' "$kn"
