#!/bin/sh
# The store: import, images, inspect, tag, rmi, fsck; checked by skopeo, umoci and GNU tar.
. "$(dirname "$0")/lib.sh"
need_cmd skopeo umoci tar jq python3

tar_in=$(busybox_rootfs_tar)
cp "$tar_in" "$T/rootfs.tar"
chmod 0644 "$T/rootfs.tar"
R=$T/store
kb() { c=$1; shift; as_builder "$KILN" "$c" --root "$R" "$@"; }

say "import, rootless"
imported=$(kb import "$T/rootfs.tar" busybox:1)
expect_contains "$imported" "sha256:"
digest=$(kb inspect busybox:1 | jq -r .Digest)
[ -f "$R/oci-layout" ] && [ -d "$R/blobs/sha256" ] && [ -d "$R/snapshots" ] &&
	[ -d "$R/cache" ] && [ -d "$R/tmp" ] || fail "store layout incomplete: $(ls -a "$R")"
expect_eq "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$R/index.json")" \
	busybox:1 "ref.name in index.json"

say "the same tarball gives the same image"
d2=$(SOURCE_DATE_EPOCH=1700000000 kb import "$T/rootfs.tar" again)
d3=$(SOURCE_DATE_EPOCH=1700000000 kb import "$T/rootfs.tar" again2)
expect_eq "$d2" "$d3" "import digest with SOURCE_DATE_EPOCH"

say "images and inspect"
out=$(kb images)
expect_contains "$out" "busybox:1"
expect_contains "$out" "IMAGE ID"
expect_eq "$(kb images --format json | jq -r '.[] | select(.name == "busybox:1") | .digest')" "$digest" "images json digest"
id=$(kb inspect busybox:1 | jq -r .Id)
# import prints the image ID, as build does; images shows its first 12 hex digits
expect_eq "$imported" "$id" "import prints the image ID"
expect_contains "$out" "$(echo "$id" | cut -c8-19)" "images shows the imported image's ID"
expect_eq "$(kb inspect busybox:1 | jq -r .Digest)" "$digest" "inspect digest"
expect_eq "$(kb inspect "$(echo "$id" | cut -c8-19)" | jq -r .Digest)" "$digest" "inspect by ID prefix"
expect_eq "$(kb inspect busybox:1 | jq -r '.Config.rootfs.diff_ids | length')" 1 "one layer"
expect_fail 1 "image 'nosuch' not found" kb inspect nosuch
expect_fail 2 "inspect: expected one image name or ID" kb inspect
expect_fail 1 "invalid image name 'Bad'" kb tag busybox:1 Bad

say "skopeo reads the store as it is"
skopeo inspect "oci:$R:busybox:1" >"$T/skopeo.json" || fail "skopeo inspect failed"
expect_eq "$(jq -r .Digest "$T/skopeo.json")" "$digest" "skopeo digest"
expect_eq "$(jq -r .Os "$T/skopeo.json")" linux "skopeo os"

say "umoci unpacks it, as root and rootless"
umoci unpack --image "$R:busybox:1" "$T/bundle-root" >/dev/null 2>&1 || fail "umoci unpack (root) failed"
[ -x "$T/bundle-root/rootfs/bin/busybox" ] || fail "umoci: no /bin/busybox"
expect_eq "$(stat -c %a "$T/bundle-root/rootfs/tmp")" 1777 "umoci: /tmp mode"
as_builder umoci unpack --rootless --image "$R:busybox:1" "$T/bundle-user" >/dev/null 2>&1 ||
	fail "umoci unpack --rootless failed"
[ -x "$T/bundle-user/rootfs/bin/busybox" ] || fail "umoci rootless: no /bin/busybox"

say "GNU tar extracts the layer to the same tree as the input"
layer=$(kb inspect busybox:1 | jq -r '.Manifest.layers[0].digest' | cut -d: -f2)
mkdir "$T/a" "$T/b"
tar -C "$T/a" --numeric-owner -xpf "$T/rootfs.tar"
tar -C "$T/b" --numeric-owner -xpzf "$R/blobs/sha256/$layer"
(cd "$T/a" && find . -printf '%p %y %m %U:%G %s %l\n' | sort) >"$T/a.list"
(cd "$T/b" && find . -printf '%p %y %m %U:%G %s %l\n' | sort) >"$T/b.list"
diff -u "$T/a.list" "$T/b.list" || fail "trees differ"
diff -r "$T/a" "$T/b" >/dev/null || fail "contents differ"
# the layer's diffID is the digest of the uncompressed tar
diffid=$(gzip -dc "$R/blobs/sha256/$layer" | sha256sum | cut -d' ' -f1)
expect_eq "sha256:$diffid" "$(kb inspect busybox:1 | jq -r '.Config.rootfs.diff_ids[0]')" "diffID"

say "tag and rmi"
kb tag busybox:1 localhost:5000/app:1
kb tag "$digest" other
expect_eq "$(kb inspect localhost:5000/app:1 | jq -r .Digest)" "$digest" "tag"
expect_eq "$(kb inspect other:latest | jq -r .Digest)" "$digest" "tag by digest"
out=$(kb rmi other localhost:5000/app:1)
expect_contains "$out" "Untagged: other:latest"
expect_fail 1 "not found" kb inspect other
kb inspect busybox:1 >/dev/null || fail "rmi removed too much"

say "fsck: clean, then damaged"
kb fsck || fail "fsck failed on a good store"
chmod u+w "$R/blobs/sha256/$layer"
printf 'x' >>"$R/blobs/sha256/$layer"
expect_fail 1 "problem" kb fsck
grep -q "blob 'sha256:$layer' is damaged" "$T/.out" || fail "fsck did not name the blob: $(cat "$T/.out")"

say "prune frees what no image reaches, and only that"
chmod u+w "$R/blobs/sha256/$layer"
truncate -s -1 "$R/blobs/sha256/$layer"
kb fsck || fail "fsck after repair"
kb import "$T/rootfs.tar" doomed:1 >/dev/null
kb rmi again again2 >/dev/null
out=$(kb prune)
expect_contains "$out" "freed"
kb fsck || fail "fsck after prune"
kb inspect busybox:1 >/dev/null || fail "prune removed a named image"
kb inspect doomed:1 >/dev/null || fail "prune removed a named image"
out=$(kb rmi doomed:1 && kb prune)
expect_contains "$out" "deleted blob sha256:"
expect_fail 1 "not found" kb inspect doomed:1
kb inspect busybox:1 >/dev/null || fail "prune removed the wrong image"

say "on ext4, tmp/ spreads new step directories over block groups (chattr +T)"
if [ "$(stat -f -c %T "$R")" = ext2/ext3 ] && command -v lsattr >/dev/null; then
	lsattr -d "$R/tmp" | cut -d' ' -f1 | grep -q T ||
		fail "tmp/ lacks the T attribute: $(lsattr -d "$R/tmp")"
else
	say "not ext4 here: nothing to check"
fi
