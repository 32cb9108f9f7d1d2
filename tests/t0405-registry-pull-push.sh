#!/bin/sh
# kiln push and kiln pull against Debian's docker-registry, checked with
# skopeo and podman: push an image, inspect and run it; pull images that
# skopeo pushed (OCI and Docker schema 2, through an index); mounts between
# repositories; an unchanged push sends nothing; clear errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
need_cmd skopeo umoci jq
registry_start
R=$REGISTRY
export KILN_ROOT=$T/store
rootfs=$(busybox_rootfs_tar)

# ---- push ----
kiln import "$rootfs" busybox:1 >/dev/null
d=$(kiln push -q busybox:1 "$R/test/busybox:1")
expect_eq "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/test/busybox:1")" "$d" "skopeo sees the pushed digest"
skopeo inspect --tls-verify=false --raw "docker://$R/test/busybox:1" | jq -e '.layers | length == 1' >/dev/null ||
	fail "pushed manifest has no layer"
# unchanged: one HEAD, no blob requests
n0=$(grep -c 'blobs' "$T/registry/log")
expect_eq "$(kiln push -q busybox:1 "$R/test/busybox:1")" "$d" "second push"
expect_eq "$(grep -c 'blobs' "$T/registry/log")" "$n0" "requests for blobs on an unchanged push"
# another repository: blobs are mounted, not uploaded
kiln push busybox:1 "$R/other/copy:2" >/dev/null 2>"$T/progress"
grep -q "mount=sha256" "$T/registry/log" || fail "no cross-repository mount in the registry log"
expect_contains "$(cat "$T/progress")" "mounted"
# DEST defaults to NAME; docker:// is accepted
kiln tag busybox:1 "$R/named:3"
expect_eq "$(kiln push -q "$R/named:3")" "$d" "push NAME"
expect_eq "$(kiln push -q busybox:1 "docker://$R/named:4")" "$d" "push docker://"

# podman (rootless, as the builder user) pulls and runs what kiln pushed
if command -v podman >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	out=$(as_builder podman --runtime runc run --rm --network none --tls-verify=false \
		"$R/test/busybox:1" echo hello-from-kiln 2>"$T/podman.err") ||
		fail "podman run: $(cat "$T/podman.err")"
	expect_eq "$out" hello-from-kiln "podman run"
fi

# ---- pull what skopeo pushed ----
umoci init --layout "$T/layout"
umoci new --image "$T/layout:base"
umoci raw add-layer --image "$T/layout:base" "$rootfs"
skopeo copy -q --dest-tls-verify=false "oci:$T/layout:base" "docker://$R/sk/oci:1"
skopeo copy -q --dest-tls-verify=false --format v2s2 "oci:$T/layout:base" "docker://$R/sk/docker:1"
export KILN_ROOT=$T/store2
oci=$(kiln pull -q "$R/sk/oci:1")
expect_eq "$oci" "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/sk/oci:1")" "pulled OCI digest"
dock=$(kiln pull -q "docker://$R/sk/docker:1" sk-docker)
expect_eq "$dock" "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/sk/docker:1")" "pulled Docker digest"
kiln images --format "{{.Repository}}:{{.Tag}} " | grep -q "^$R/sk/oci:1 " || fail "pulled image not named: $(kiln images)"
kiln images --format "{{.Repository}}:{{.Tag}} " | grep -q "^sk-docker:latest " || fail "NAME not used: $(kiln images)"
kiln fsck >/dev/null || fail "store invalid after pull"
skopeo inspect "oci:$KILN_ROOT:$R/sk/oci:1" >/dev/null || fail "skopeo cannot read the pulled image"
# layers pulled once: the same layer again is not fetched
n0=$(grep -c 'GET /v2/sk/oci/blobs' "$T/registry/log")
kiln pull -q "$R/sk/oci:1" again >/dev/null
expect_eq "$(grep -c 'GET /v2/sk/oci/blobs' "$T/registry/log")" "$n0" "blob GETs for a stored image"
# a download complete but not yet renamed (killed at that instant) is finished from the file
layer=$(skopeo inspect --tls-verify=false --raw "docker://$R/sk/oci:1" | jq -r '.layers[0].digest' | cut -c8-)
mv "$KILN_ROOT/blobs/sha256/$layer" "$KILN_ROOT/tmp/registry-$layer.partial"
kiln rmi "$R/sk/oci:1" again >/dev/null
expect_eq "$(kiln pull -q "$R/sk/oci:1")" "$oci" "pull from a complete partial file"
[ -f "$KILN_ROOT/blobs/sha256/$layer" ] || fail "layer not adopted"
[ ! -e "$KILN_ROOT/tmp/registry-$layer.partial" ] || fail "partial file left"
# a Docker schema 2 image goes back out with the same digest
expect_eq "$(kiln push -q sk-docker "$R/sk/back:1")" "$dock" "re-pushed Docker image digest"
# ... and its blobs were mounted from the repository it was pulled from
grep -q 'POST /v2/sk/back/blobs/uploads/?mount=sha256:[0-9a-f]*&from=sk/docker' "$T/registry/log" ||
	fail "no mount from the pulled repository: $(grep 'sk/back' "$T/registry/log" | head -3)"
grep -q 'PATCH /v2/sk/back\|PUT /v2/sk/back/blobs' "$T/registry/log" && fail "blobs were uploaded, not mounted"

# ---- an index: linux/amd64 by default, --platform otherwise ----
KILN_ROOT=$T/store kiln push -q busybox:1 "$R/sk/oci:arm" >/dev/null
msize() { skopeo inspect --tls-verify=false --raw "docker://$1" | wc -c; }
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"os":"linux","architecture":"amd64"}}]}' \
	"$d" "$(msize "$R/test/busybox:1")" "$oci" "$(msize "$R/sk/oci:1")" >"$T/index.json"
probe manifest-put "$R/sk/oci:multi" "$T/index.json" application/vnd.oci.image.index.v1+json >/dev/null
expect_eq "$(kiln pull -q "$R/sk/oci:multi")" "$oci" "index resolved to linux/amd64"
expect_eq "$(kiln pull -q --platform linux/arm64 "$R/sk/oci:multi" arm)" "$d" "--platform linux/arm64"
expect_fail 1 "no image for platform 'linux/s390x' in the index (it has: linux/arm64, linux/amd64)" \
	kiln pull -q --platform linux/s390x "$R/sk/oci:multi"
# by digest
expect_eq "$(kiln pull -q "$R/sk/oci@$oci" bydigest)" "$oci" "pull by digest"

# the unprivileged user pulls into its own store (XDG_DATA_HOME/kiln)
if [ "$(id -u)" = 0 ]; then
	expect_eq "$(as_builder env -u KILN_ROOT "$KILN" pull -q "$R/sk/oci:1")" "$oci" "rootless pull"
	as_builder env -u KILN_ROOT "$KILN" images --format "{{.Repository}}:{{.Tag}} " | grep -q "^$R/sk/oci:1 " || fail "rootless store lacks the image"
fi

# ---- errors ----
expect_fail 1 "registry '$R': repository 'sk/none': GET manifest 'latest': HTTP 404: MANIFEST_UNKNOWN" kiln pull "$R/sk/none"
expect_fail 1 "invalid reference '$R/Bad': repository name must be lowercase" kiln pull "$R/Bad"
expect_fail 2 "--platform" kiln pull --platform linux "$R/sk/oci:multi"
expect_fail 1 "push 'nothere': image 'nothere' not found" kiln push nothere "$R/x"
expect_fail 2 "push: expected NAME [DESTINATION]" kiln push
