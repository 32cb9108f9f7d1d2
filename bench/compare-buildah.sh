#!/bin/sh
# Build the peer benchmark Dockerfiles with kiln, buildah (rootless, overlay,
# --layers) and charliecloud's ch-image (rootless, build cache on) in the same
# run, cold, no-op rebuild, and (bigcopy) after one 4 KiB file of the context
# changed; print median seconds, kiln/buildah and kiln/ch-image. A builder
# that cannot build a Dockerfile (ch-image cannot chown: `users`) shows `fails`.
#
# usage: bench/compare-buildah.sh [NAMES...]   (as root: runs all as `builder`)
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
command -v bc >/dev/null || apt-get install -y -q bc >/dev/null
command -v ch-image >/dev/null ||
	{ apt-get update -q && apt-get install -y -q charliecloud; } >/dev/null 2>&1 || true
uid=$(id -u $user)
as() { runuser -u $user -- env HOME="$W/home" XDG_RUNTIME_DIR=/run/user/$uid "$@"; }

cp -r "$PEERS/dockerfiles" "$W/df"
python3 "$PEERS/gen-bigcopy.py" "$W/df/bigcopy/data" >/dev/null
"$here/testdata/make-busybox-rootfs.sh" "$W/busybox.tar"
mkdir -p "$W/home"
# ch-image keeps its build cache in git, which wants an identity
printf '[user]\n\tname = kiln bench\n\temail = bench@localhost\n' >"$W/home/.gitconfig"
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
# ch-image needs Debian's python3 (root's PATH may start with another one)
chimage() { as env PATH="/usr/bin:$PATH" ch-image -s "$W/ch" "$@"; }
chimage_build() {
	chimage build --cache -t "b-$1" "$W/df/$1" >"$W/ch.log" 2>&1 || { tail -3 "$W/ch.log" >&2; return 1; }
}
# cold = what a user gets after `kiln rmi` and `kiln prune --cache`: the base
# image only (buildah_clean removes buildah's layers the same way)
kiln_clean() {
	as env KILN_ROOT="$W/kiln" "$KILN" rmi "b-$1" >/dev/null 2>&1 || true
	as env KILN_ROOT="$W/kiln" "$KILN" prune --cache >/dev/null 2>&1 || true
}
buildah_clean() { as buildah --root "$W/bah" --runroot "$W/bahrun" --storage-driver overlay rmi -a -f >/dev/null 2>&1 || true; }
# the build cache holds the base too: start from empty storage, import the base again
chimage_clean() { rm -rf "$W/ch" && chimage import "$W/busybox.tar" busybox:1 >/dev/null 2>&1; }

median() { sort -n | awk '/fails/ {f = 1} {a[NR] = $1}
	END {if (f || !NR) print "fails"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
timeit() { s=$(date +%s.%N); "$@" || return 1; e=$(date +%s.%N); echo "$e - $s" | bc; }
sample() { # sample TOOL NAME KIND: median seconds of RUNS builds, or "fails"
	for _ in $(seq "$RUNS"); do "prep_$3" "$1" "$2" && timeit "$1_build" "$2" || echo fails; done | median
}
secs() { if [ "$1" = fails ]; then printf ' %8s' fails; else printf ' %8.2f' "$1"; fi; }
ratio() { case "$1 $2" in *fails*) printf ' %9s' - ;; *) printf ' %8.2fx' "$(echo "$1 / $2" | bc -l)" ;; esac; }

row() { # row NAME KIND
	k=$(sample kiln "$1" "$2")
	b=$(sample buildah "$1" "$2")
	c=$(sample chimage "$1" "$2")
	printf '%-12s %-7s' "$1" "$2"
	secs "$k"; secs "$b"; secs "$c"; ratio "$k" "$b"; ratio "$k" "$c"
	echo
}
prep_cold() { "$1_clean" "$2"; }
prep_noop() { "$1_build" "$2"; }
# rewrite one file that exists in the generated context (d00/s00/f00000.dat)
prep_change() { "$1_build" "$2" && head -c 4096 /dev/urandom >"$W/df/$2/data/d00/s00/f00000.dat"; }

chimage_clean || echo "ch-image does not work here: its column shows 'fails'" >&2
printf '%-12s %-7s %8s %8s %8s %9s %9s\n' dockerfile kind kiln buildah ch-image kiln/bah kiln/ch
for n in $names; do
	row "$n" cold
	row "$n" noop
	if [ "$n" = bigcopy ]; then row "$n" change; fi
done
