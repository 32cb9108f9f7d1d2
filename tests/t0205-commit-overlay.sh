#!/bin/sh
# A real overlayfs upperdir committed as a layer: whiteouts, opaque directories,
# hardlinks, capabilities; honoured by GNU tar, umoci, podman and by overlayfs
# itself when the layers are unpacked as snapshots.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd tar umoci podman setcap getcap jq python3

tool=$KILN_BUILD/layers/tests/layer-tool
# podman wants a lower-case layout path (mktemp's $T has upper case)
R=/tmp/kiln-t0205-$$
rm_r() { rm -rf "$R"; }
add_cleanup rm_r
export SOURCE_DATE_EPOCH=1700000000

say "a base tree, then changes made through a kernel overlay mount"
mkdir "$T/base" "$T/up" "$T/work" "$T/merged"
tar -C "$T/base" -xf "$(busybox_rootfs_tar)"
mkdir -p "$T/base/data" "$T/base/opq/sub"
echo keep >"$T/base/data/keep"
echo gone >"$T/base/data/gone"
echo old >"$T/base/opq/old"
echo old >"$T/base/opq/sub/old2"
mount -t overlay overlay -o "lowerdir=$T/base,upperdir=$T/up,workdir=$T/work" "$T/merged" ||
	skip "cannot mount overlayfs here"
umount_merged() { umount "$T/merged" 2>/dev/null || true; }
add_cleanup umount_merged
m=$T/merged
rm "$m/data/gone"
rm -rf "$m/opq"
mkdir "$m/opq"
echo new >"$m/opq/new"
mkdir -p "$m/app"
echo payload >"$m/app/one"
ln "$m/app/one" "$m/app/two"
cp "$m/bin/busybox" "$m/app/ping"
setcap cap_net_raw+ep "$m/app/ping"
python3 -c "import os; os.setxattr('$m/app/one', 'user.note', b'hello')"
mkfifo "$m/app/fifo"
chown 1234:5678 "$m/app/one"
umount "$T/merged"
[ -c "$T/up/data/gone" ] || fail "overlayfs made no whiteout"

say "commit: deterministic, and GNU tar reads the layer"
a=$("$tool" commit "$T/up" "$T/up1.tgz")
b=$("$tool" commit "$T/up" "$T/up2.tgz" gzip 1)
expect_eq "$a" "$b" "layer digests (2 threads vs 1)"
tar -tvzf "$T/up1.tgz" >"$T/list"
grep -q ' data/.wh.gone$' "$T/list" || fail "no whiteout entry: $(cat "$T/list")"
grep -q ' opq/.wh..wh..opq$' "$T/list" || fail "no opaque marker: $(cat "$T/list")"
grep -q '^h.* app/two link to app/one$' "$T/list" || fail "no hardlink entry: $(cat "$T/list")"
grep -q ' 1234/5678 .* app/one$' "$T/list" || fail "numeric owner lost: $(cat "$T/list")"
grep -q 'trusted.overlay' "$T/list" && fail "overlay xattrs leaked"
mkdir "$T/gnu"
tar -C "$T/gnu" --xattrs --xattrs-include='*' --numeric-owner -xpzf "$T/up1.tgz"
expect_eq "$(cat "$T/gnu/opq/new")" new "GNU tar: opq/new"
expect_eq "$(stat -c %i "$T/gnu/app/one")" "$(stat -c %i "$T/gnu/app/two")" "GNU tar: hardlink"
expect_eq "$(stat -c %u:%g "$T/gnu/app/one")" 1234:5678 "GNU tar: owner"
getcap "$T/gnu/app/ping" | grep -q cap_net_raw || fail "GNU tar: capability lost"
expect_eq "$(python3 -c "import os; print(os.getxattr('$T/gnu/app/one', 'user.note').decode())")" hello "GNU tar: user xattr"

say "an image of base + upper: umoci and podman see the whiteouts"
"$tool" image "$R" ovl:1 "$T/base" "$T/up" >/dev/null
umoci unpack --image "$R:ovl:1" "$T/bundle" >/dev/null 2>&1 || fail "umoci unpack failed"
r=$T/bundle/rootfs
[ -e "$r/data/gone" ] && fail "umoci: whiteout ignored"
expect_eq "$(cat "$r/data/keep")" keep "umoci: data/keep"
expect_eq "$(ls "$r/opq")" new "umoci: opaque directory"
expect_eq "$(stat -c %i "$r/app/one")" "$(stat -c %i "$r/app/two")" "umoci: hardlink"
getcap "$r/app/ping" | grep -q cap_net_raw || fail "umoci: capability lost"
chown -R "$KILN_TEST_USER:" "$R"
out=$(as_builder podman --runtime runc run --rm --network none "oci:$R:ovl:1" \
	sh -c 'ls /data; ls /opq; cat /app/two')
expect_eq "$(echo $out)" "keep new payload" "podman run sees the merged tree"

say "snapshots in overlay form stack under a kernel overlay mount"
mkdir "$T/s1" "$T/s2" "$T/w2" "$T/m2"
"$tool" commit "$T/base" "$T/base.tgz" >/dev/null
"$tool" apply "$T/base.tgz" "$T/s1" overlay
"$tool" apply "$T/up1.tgz" "$T/s2" overlay
[ -c "$T/s2/data/gone" ] || fail "no overlay whiteout in the snapshot"
mount -t overlay overlay -o "lowerdir=$T/s2:$T/s1" "$T/m2" || fail "cannot mount the snapshots"
umount_m2() { umount "$T/m2" 2>/dev/null || true; }
add_cleanup umount_m2
[ -e "$T/m2/data/gone" ] && fail "overlay: whiteout not honoured"
expect_eq "$(ls "$T/m2/opq")" new "overlay: opaque directory"
expect_eq "$(cat "$T/m2/data/keep")" keep "overlay: lower file"
umount "$T/m2"
