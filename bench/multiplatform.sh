#!/bin/sh
# A two-platform build (linux/amd64,linux/arm64) with kiln and with buildah
# (--platform ... --manifest, overlay, --layers) in the same run, rootless as
# `builder`: a FROM --platform=$BUILDPLATFORM stage that takes a second
# (sleep 1, standing for a cross-compile) and a final stage on the
# two-platform base index that COPYs its output and RUNs (emulated for arm64,
# through binfmt_misc). Cold: an empty cache, the base stored; no-op: the
# same build again. Prints median seconds and kiln/buildah.
#
# usage: bench/multiplatform.sh   (as root)   KILN=build/kiln RUNS=3
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$here/build/kiln}
RUNS=${RUNS:-3}
user=builder
[ "$(id -u)" = 0 ] || { echo "run as root (the builds run as '$user')" >&2; exit 2; }
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || { echo "no qemu-aarch64 binfmt handler (tools/install-deps)" >&2; exit 2; }
deb=$(ls /var/cache/kiln-test/busybox-static_*_arm64.deb | head -n 1)
sh "$here/tests/setup-builder.sh"
W=/tmp/kiln-bench-mp-$(od -An -N6 -tx1 /dev/urandom | tr -d " \n")
mkdir "$W"
chmod 755 "$W"
trap 'rm -rf "$W"' EXIT
uid=$(id -u $user)
as() { runuser -u $user -- env HOME="$W/home" XDG_RUNTIME_DIR=/run/user/$uid "$@"; }
"$here/testdata/make-busybox-rootfs.sh" "$W/amd64.tar"
dpkg-deb -x "$deb" "$W/deb"
BUSYBOX="$W/deb/bin/busybox" BUSYBOX_APPLETS=/bin/busybox "$here/testdata/make-busybox-rootfs.sh" "$W/arm64.tar"
mkdir -p "$W/home" "$W/base" "$W/app"
printf 'ARG TARGETARCH\nFROM busybox-${TARGETARCH}:1\nLABEL base=multi\n' >"$W/base/Dockerfile"
cat >"$W/app/Dockerfile" <<'EOF'
ARG BASE=base:1
FROM --platform=$BUILDPLATFORM $BASE AS build
RUN for i in $(seq 1 2000); do echo "line $i"; done >/gen && sleep 1
FROM $BASE
ARG TARGETARCH
COPY --from=build /gen /
RUN echo $TARGETARCH >/arch && wc -l /gen >/n
EOF
chown -R $user: "$W"
# the base index, made by kiln, stored in a seed store and as an OCI layout for buildah
seed() { as env KILN_ROOT="$W/seed" "$KILN" "$@"; }
seed import "$W/amd64.tar" busybox-amd64:1 >/dev/null
seed import --platform linux/arm64 "$W/arm64.tar" busybox-arm64:1 >/dev/null
seed build -q --platform linux/amd64,linux/arm64 -t base:1 "$W/base" >/dev/null 2>&1
seed save --format oci-layout -o "$W/layout" base:1

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { s=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }
kb() { as env KILN_ROOT="$W/k" "$KILN" build --progress=plain --platform linux/amd64,linux/arm64 -t app:1 "$W/app"; }
bb() {
	as buildah --root "$W/b" --runroot "$W/br" --storage-driver overlay build --layers \
		--isolation oci --runtime runc --network none --platform linux/amd64,linux/arm64 \
		--manifest app:1 --build-arg BASE=oci:$W/layout:base:1 "$W/app"
}
: >"$W/t"
for i in $(seq 1 "$RUNS"); do
	rm -rf "$W/k" && as cp -a "$W/seed" "$W/k"
	as env KILN_ROOT="$W/k" "$KILN" prune --cache >/dev/null
	kc=$(secs kb)
	kn=$(secs kb)
	as buildah --root "$W/b" --runroot "$W/br" --storage-driver overlay rmi -a -f >/dev/null 2>&1 || true
	as buildah --root "$W/b" --runroot "$W/br" --storage-driver overlay manifest rm app:1 >/dev/null 2>&1 || true
	bc_=$(secs bb)
	as buildah --root "$W/b" --runroot "$W/br" --storage-driver overlay manifest rm app:1 >/dev/null 2>&1 || true
	bn=$(secs bb)
	echo "$kc $kn $bc_ $bn" >>"$W/t"
done
kcold=$(cut -d' ' -f1 "$W/t" | median)
knoop=$(cut -d' ' -f2 "$W/t" | median)
bcold=$(cut -d' ' -f3 "$W/t" | median)
bnoop=$(cut -d' ' -f4 "$W/t" | median)
printf '| build | kiln | buildah | kiln/buildah |\n| --- | --- | --- | --- |\n'
printf '| cold | %.2f | %.2f | %.2f |\n' "$kcold" "$bcold" "$(echo "$kcold / $bcold" | bc -l)"
printf '| no-op | %.2f | %.2f | %.2f |\n' "$knoop" "$bnoop" "$(echo "$knoop / $bnoop" | bc -l)"
