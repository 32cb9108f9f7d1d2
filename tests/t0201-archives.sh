#!/bin/sh
# save / load / pull: oci-archive, docker-archive and OCI layouts, checked by podman and skopeo.
. "$(dirname "$0")/lib.sh"
need_cmd skopeo podman runc jq

cp "$(busybox_rootfs_tar)" "$T/rootfs.tar"
chmod 0644 "$T/rootfs.tar"
# podman wants a lower-case layout path (mktemp's $T has upper case)
L=/tmp/kiln-t0201-$$
mkdir -p "$L" && chmod 0755 "$L"
rm_l() { rm -rf "$L"; }
add_cleanup rm_l
[ "$(id -u)" = 0 ] && chown "$KILN_TEST_USER:" "$L"
A=$L/a B=$T/b C=$T/c
k() { c=$1 r=$2; shift 2; as_builder "$KILN" "$c" --root "$r" "$@"; }

imported=$(k import "$A" "$T/rootfs.tar" busybox:1)
digest=$(k inspect "$A" busybox:1 | jq -r .Digest)
id=$(k inspect "$A" busybox:1 | jq -r .Id)
expect_eq "$imported" "$id" "import prints the image ID"

say "save both formats, load them back"
k save "$A" busybox:1 -o "$T/oci.tar"
k save "$A" --format docker-archive -o "$T/docker.tar" busybox:1
ls -a "$T" | grep -q kiln-save && fail "save left a temporary file"
expect_eq "$(k load "$B" -i "$T/oci.tar")" "$digest" "oci-archive load keeps the manifest"
expect_eq "$(k inspect "$B" busybox:1 | jq -r .Id)" "$id" "oci-archive image ID"
k rmi "$B" busybox:1 >/dev/null
k load "$B" -i "$T/docker.tar" >/dev/null
expect_eq "$(k inspect "$B" busybox:1 | jq -r .Id)" "$id" "docker-archive keeps the image ID"
k fsck "$B"
expect_fail 2 "save: --format: expected oci-archive, docker-archive or oci-layout" k save "$A" --format zip -o "$T/x" busybox:1
expect_fail 2 "-o FILE is required" k save "$A" busybox:1

say "pull from a layout, an oci-archive, a docker-archive"
expect_eq "$(k pull "$C" "oci:$A:busybox:1")" "$digest" "pull oci:"
k pull "$C" "oci-archive:$T/oci.tar" fromarchive:2 >/dev/null
expect_eq "$(k inspect "$C" fromarchive:2 | jq -r .Digest)" "$digest" "pull oci-archive:"
k pull "$C" "docker-archive:$T/docker.tar:busybox:1" fromdocker >/dev/null
expect_eq "$(k inspect "$C" fromdocker | jq -r .Id)" "$id" "pull docker-archive:"
expect_fail 1 "no image 'nope:1'" k pull "$C" "oci:$A:nope:1"
# registry references go to the registry module (no network here: a clear error)
expect_fail 1 "registry 'docker.io'" k pull "$C" docker.io/library/busybox

say "images another OCI tool adds to the store are usable"
as_builder skopeo copy -q "oci:$A:busybox:1" "oci:$C:viaskopeo:1"
expect_eq "$(k inspect "$C" viaskopeo:1 | jq -r .Id)" "$id" "skopeo-written image"
k tag "$C" viaskopeo:1 viakiln:1
k fsck "$C"
# and skopeo can read what kiln pulled
skopeo inspect "oci:$C:fromdocker:latest" >/dev/null || fail "skopeo cannot read a pulled image"

say "podman loads and runs both archives (rootless)"
pm() { as_builder podman --runtime runc "$@"; }
chmod 0644 "$T/oci.tar" "$T/docker.tar"
pm load -q -i "$T/docker.tar" >/dev/null || fail "podman load docker-archive failed"
expect_eq "$(pm run --rm --network none localhost/busybox:1 echo hi)" hi "podman run (docker-archive)"
pm rmi -f localhost/busybox:1 >/dev/null 2>&1 || true
pm load -q -i "$T/oci.tar" >/dev/null || fail "podman load oci-archive failed"
expect_eq "$(pm run --rm --network none localhost/busybox:1 head -1 /etc/group)" root:x:0: "podman run (oci-archive)"
expect_eq "$(pm run --rm --network none "oci:$A:busybox:1" sh -c 'id -u')" 0 "podman run from the store"

say "zstd and uncompressed layers, Docker v2s2 manifests"
k import "$A" --compression zstd "$T/rootfs.tar" zst:1 >/dev/null
k import "$A" --compression none "$T/rootfs.tar" raw:1 >/dev/null
k import "$A" --format docker "$T/rootfs.tar" dock:1 >/dev/null
expect_eq "$(k inspect "$A" zst:1 | jq -r '.Manifest.layers[0].mediaType')" \
	application/vnd.oci.image.layer.v1.tar+zstd "zstd media type"
expect_eq "$(k inspect "$A" dock:1 | jq -r '.Manifest.mediaType')" \
	application/vnd.docker.distribution.manifest.v2+json "docker manifest"
expect_eq "$(pm run --rm --network none "oci:$A:zst:1" echo zstd)" zstd "podman run (zstd layer)"
expect_eq "$(pm run --rm --network none "oci:$A:raw:1" echo raw)" raw "podman run (uncompressed layer)"
k save "$A" --format docker-archive -o "$T/dock.tar" dock:1
chmod 0644 "$T/dock.tar"
pm load -q -i "$T/dock.tar" >/dev/null || fail "podman load of a v2s2 image failed"
expect_eq "$(pm run --rm --network none localhost/dock:1 echo v2s2)" v2s2 "podman run (v2s2)"
k fsck "$A"
pm system reset -f >/dev/null 2>&1 || true

say "save into an OCI layout directory, next to what is there"
k save "$A" --format oci-layout -o "$L/layout" busybox:1
k save "$A" --format oci-layout -o "$L/layout" zst:1
expect_eq "$(skopeo inspect "oci:$L/layout:busybox:1" | jq -r .Digest)" "$digest" "skopeo on the saved layout"
expect_eq "$(jq '.manifests | length' "$L/layout/index.json")" 2 "two images in the layout"
as_builder umoci unpack --rootless --image "$L/layout:busybox:1" "$T/ub" >/dev/null 2>&1 ||
	fail "umoci cannot unpack the saved layout"
[ -x "$T/ub/rootfs/bin/busybox" ] || fail "umoci: no /bin/busybox in the saved layout"
