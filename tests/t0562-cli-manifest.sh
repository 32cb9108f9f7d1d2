#!/bin/sh
# kiln manifest create|add|inspect|push, rootless: two images built on
# "runners" of their own (stores of their own) and pushed by tag come back
# with pull --platform; an index of them is made, amended, inspected and
# pushed under one name, without sending a blob again; skopeo reads it.
. "$(dirname "$0")/lib.sh"
need_cmd skopeo jq
registry_start
R=$REGISTRY
amd=$(busybox_rootfs_tar)
arm=$(busybox_arm64_rootfs_tar)
k() { st=$1; shift; as_builder env KILN_ROOT="$T/$st" "$KILN" "$@"; }

# the runners: one image per architecture, pushed by tag
k amd64 import "$amd" app:1 >/dev/null
k arm64 import --platform linux/arm64 "$arm" app:1 >/dev/null
da=$(k amd64 push -q app:1 "$R/app:amd64")
dr=$(k arm64 push -q app:1 "$R/app:arm64")
# here: pull each, then make the index
k here pull -q "$R/app:amd64" a >/dev/null
k here pull -q --platform linux/arm64 "$R/app:arm64" r >/dev/null
expect_fail 2 "manifest create: expected LIST [IMAGE...]" k here manifest create
expect_fail 1 "manifest create: image 'nosuch:1' not found" k here manifest create app:1 a nosuch:1
k here images --format '{{.Repository}}' | grep -qx app && fail "a failed create named 'app'"
idx=$(k here manifest create app:1 a)
expect_eq "$(k here manifest inspect app:1 | jq -c '[.manifests[] | [.platform.architecture, .digest]]')" \
	"[[\"amd64\",\"$da\"]]" "created with one image"
idx2=$(k here manifest add app:1 r)
[ "$idx2" != "$idx" ] || fail "add did not change the index"
expect_eq "$(k here manifest inspect app:1 | jq -c '[.manifests[] | [.platform.architecture, .digest]]')" \
	"[[\"amd64\",\"$da\"],[\"arm64\",\"$dr\"]]" "after add"
expect_fail 1 "manifest create: 'app:1' exists (add to it with 'kiln manifest add')" \
	k here manifest create app:1 a
expect_fail 1 "manifest add: 'a' is not an image index in the store" k here manifest add a r
expect_fail 1 "manifest inspect: 'a' is an image, not an image index" k here manifest inspect a
# an image of a platform already listed replaces it (the same one again: same index)
expect_eq "$(k here manifest add app:1 a)" "$idx2" "adding a listed image again"

# push: each manifest by digest, then the index; no blob goes up again
n0=$(grep -c 'PUT /v2/app/blobs/uploads/' "$T/registry/log" || true)
pushed=$(k here manifest push -q app:1 "$R/app:1")
expect_eq "$pushed" "$idx2" "manifest push prints the index digest"
expect_eq "$(grep -c 'PUT /v2/app/blobs/uploads/' "$T/registry/log" || true)" "$n0" "blob uploads by manifest push"
raw=$(skopeo inspect --tls-verify=false --raw "docker://$R/app:1")
expect_eq "$(echo "$raw" | jq -r .mediaType)" "application/vnd.oci.image.index.v1+json" "pushed media type"
expect_eq "sha256:$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)" "$idx2" "the registry's index is the stored one"
expect_eq "$(skopeo inspect --tls-verify=false --override-arch arm64 --config --raw "docker://$R/app:1" | jq -r .architecture)" \
	arm64 "the arm64 image through the index"
exit 0
