#!/bin/sh
# kiln's chroot isolation (what it picks where no namespace can be made: root
# in a default container) against buildah's, the usual kaniko replacement:
# `buildah build --isolation chroot --storage-driver vfs`. Both run as root on
# this host, cold (the base image only) and no-op, in the same run; prints
# median seconds and kiln/buildah.
#
# usage: bench/compare-chroot.sh [NAMES...]   (as root)
#   KILN=path/to/kiln (default build/kiln), RUNS=3, PEERS=/work/shared/peers
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$here/build/kiln}
PEERS=${PEERS:-$here/../shared/peers}
RUNS=${RUNS:-3}
names=${*:-many-steps bigcopy}

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
W=$(mktemp -d /tmp/kiln-chroot-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
cp -r "$PEERS/dockerfiles" "$W/df"
python3 "$PEERS/gen-bigcopy.py" "$W/df/bigcopy/data" >/dev/null
"$here/testdata/make-busybox-rootfs.sh" "$W/busybox.tar"
export KILN_ROOT="$W/kiln"
"$KILN" import "$W/busybox.tar" busybox:1 >/dev/null
bah() { buildah --root "$W/bah" --runroot "$W/bahrun" --storage-driver vfs "$@"; }
bah import "$W/busybox.tar" busybox:1 >/dev/null 2>&1 ||
	{ ctr=$(bah from scratch) && mnt=$(bah mount "$ctr") && tar -C "$mnt" -xf "$W/busybox.tar" &&
		bah commit -q "$ctr" busybox:1 >/dev/null && bah rm "$ctr" >/dev/null; }

kiln_build() {
	"$KILN" build -q --isolation chroot -t "b-$1" "$W/df/$1" >/dev/null 2>"$W/kiln.log" ||
		{ tail -3 "$W/kiln.log" >&2; return 1; }
}
buildah_build() {
	bah build --layers --isolation chroot -q --pull=never \
		-t "b-$1" -f "$W/df/$1/Dockerfile" "$W/df/$1" \
		>"$W/buildah.log" 2>&1 || { tail -5 "$W/buildah.log" >&2; return 1; }
}
kiln_clean() { "$KILN" rmi "b-$1" >/dev/null 2>&1 || true; "$KILN" prune --cache >/dev/null 2>&1 || true; }
buildah_clean() { bah rmi -f "b-$1" >/dev/null 2>&1 || true; bah rmi --prune >/dev/null 2>&1 || true; }

secs() { s=$(date +%s%N); "$@" || return 1; e=$(date +%s%N); echo "scale=2; ($e - $s) / 1000000000" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
sample() { # TOOL NAME KIND
	i=0
	while [ $i -lt "$RUNS" ]; do
		[ "$3" = cold ] && "$1_clean" "$2"
		secs "$1_build" "$2" || { echo fails; return; }
		i=$((i + 1))
	done | median
}
command -v bc >/dev/null || apt-get install -y -q bc >/dev/null
printf '%-12s %-6s %8s %8s %9s\n' dockerfile kind kiln buildah kiln/bah
for n in $names; do
	kiln_build "$n" && buildah_build "$n" # warm both: the base is unpacked once
	for kind in cold noop; do
		k=$(sample kiln "$n" $kind)
		b=$(sample buildah "$n" $kind)
		r=$(echo "scale=2; $k / $b" | bc 2>/dev/null || echo -)
		printf '%-12s %-6s %8s %8s %8sx\n' "$n" $kind "$k" "$b" "$r"
	done
done
