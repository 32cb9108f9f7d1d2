#!/bin/sh
# Build the peer benchmark Dockerfiles with kiln and with buildah (rootless,
# overlay, --layers) in the same run, cold, no-op rebuild, and (bigcopy) after
# one 4 KiB file of the context changed; print median seconds and kiln/buildah.
#
# usage: bench/compare-buildah.sh [NAMES...]   (as root: runs both as `builder`)
#   KILN=path/to/kiln (default build/kiln), RUNS=3, PEERS=/work/shared/peers
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$here/build/kiln}
PEERS=${PEERS:-$here/../shared/peers}
RUNS=${RUNS:-3}
names=${*:-hello many-steps multistage users bigcopy bigfile}
user=builder

[ "$(id -u)" = 0 ] || { echo "run as root (the builds run as '$user')" >&2; exit 2; }
sh "$here/tests/setup-builder.sh"
W=/tmp/kiln-bench-$(od -An -N6 -tx1 /dev/urandom | tr -d " \n")
mkdir "$W"
chmod 755 "$W"
trap 'rm -rf "$W"' EXIT
uid=$(id -u $user)
as() { runuser -u $user -- env HOME="$W/home" XDG_RUNTIME_DIR=/run/user/$uid "$@"; }

cp -r "$PEERS/dockerfiles" "$W/df"
python3 "$PEERS/gen-bigcopy.py" "$W/df/bigcopy/data" >/dev/null
"$here/testdata/make-busybox-rootfs.sh" "$W/busybox.tar"
mkdir -p "$W/home"
chown -R $user: "$W"
as "$KILN" --root "$W/kiln" import "$W/busybox.tar" busybox:1 >/dev/null 2>&1 ||
	as env KILN_ROOT="$W/kiln" "$KILN" import "$W/busybox.tar" busybox:1 >/dev/null
# the same rootfs as an OCI layout for buildah
as sh -c "cd '$W' && umoci init --layout oci && umoci new --image oci:1 && \
	umoci unpack --rootless --image oci:1 bundle >/dev/null && \
	tar -C bundle/rootfs -xf busybox.tar && umoci repack --image oci:1 bundle && \
	umoci config --image oci:1 --config.cmd /bin/sh >/dev/null" >/dev/null 2>&1

kiln_build() { as env KILN_ROOT="$W/kiln" "$KILN" build -q --network none -t "b-$1" "$W/df/$1" >/dev/null 2>"$W/kiln.log" || { tail -3 "$W/kiln.log" >&2; return 1; }; }
buildah_build() {
	as buildah --root "$W/bah" --runroot "$W/bahrun" --storage-driver overlay build --layers \
		--isolation oci --runtime runc --network none -q --build-arg "BASE=oci:$W/oci:1" \
		-t "b-$1" -f "$W/df/$1/Dockerfile" "$W/df/$1" >"$W/buildah.log" 2>&1 || { tail -5 "$W/buildah.log" >&2; return 1; }
}
kiln_clean() { as env KILN_ROOT="$W/kiln" "$KILN" rmi "b-$1" >/dev/null 2>&1 || true; rm -rf "$W/kiln/cache"/* 2>/dev/null || true; }
buildah_clean() { as buildah --root "$W/bah" --runroot "$W/bahrun" --storage-driver overlay rmi -a -f >/dev/null 2>&1 || true; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
timeit() { s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }

row() { # row NAME KIND
	k=$(for i in $(seq $RUNS); do prep_$2 kiln "$1"; timeit kiln_build "$1"; done | median)
	b=$(for i in $(seq $RUNS); do prep_$2 buildah "$1"; timeit buildah_build "$1"; done | median)
	printf '%-12s %-7s %8.2f %8.2f %7.2fx\n' "$1" "$2" "$k" "$b" "$(echo "$k / $b" | bc -l)"
}
prep_cold() { "$1_clean" "$2"; }
prep_noop() { "$1_build" "$2"; }
prep_change() { "$1_build" "$2"; head -c 4096 /dev/urandom > "$W/df/$2/data/d00/f00000.bin" 2>/dev/null ||
	head -c 4096 /dev/urandom > "$(find "$W/df/$2/data" -type f | head -1)"; }

command -v bc >/dev/null || apt-get install -y -q bc >/dev/null
printf '%-12s %-7s %8s %8s %8s\n' dockerfile kind kiln buildah ratio
for n in $names; do
	row "$n" cold
	row "$n" noop
	[ "$n" = bigcopy ] && row "$n" change
done
