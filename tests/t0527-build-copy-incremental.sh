#!/bin/sh
# Incremental COPY: a COPY that misses the cache starts from the files of its
# last result (hardlinked) and rewrites only what changed. For every kind of
# context change, the image is the one a --no-cache build in a fresh store
# gives, bit for bit (SOURCE_DATE_EPOCH makes image IDs comparable); the
# earlier image is never modified; prune drops block indexes with their blobs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd umoci skopeo podman runc jq
export SOURCE_DATE_EPOCH=1700000000
STORE1=$T/store
build_setup

c=$(ctx incr)
cat >"$c/Dockerfile" <<'EOF2'
FROM busybox:1
COPY data /data
COPY --chown=1000:1000 --chmod=640 conf/ /etc/app/
COPY single.txt /usr/local/share/single.txt
WORKDIR /srv/app
COPY data2 ./d2
RUN find /data /etc/app /srv/app | sort > /listing && cat /data/d1/s1/f2 /usr/local/share/single.txt > /catted
EOF2

# data/: 5 x 4 directories of 10 files (some executable), and the odd ones
for d in 0 1 2 3 4; do
	for s in 0 1 2 3; do
		mkdir -p "$c/data/d$d/s$s"
		for f in 0 1 2 3 4 5 6 7 8 9; do
			printf 'file d%s/s%s/f%s\n%0*d\n' $d $s $f $((f * 37 + s * 5 + d)) 0 \
				>"$c/data/d$d/s$s/f$f"
		done
		chmod 755 "$c/data/d$d/s$s/f7" "$c/data/d$d/s$s/f8"
	done
done
mkdir -p "$c/data/odd/empty" "$c/data/hl" "$c/conf/sub" "$c/data2/x/y"
ln -s ../d0/s0/f0 "$c/data/odd/link"
echo linked >"$c/data/hl/a"
ln "$c/data/hl/a" "$c/data/hl/b"
echo "spaces" >"$c/data/odd/with space.txt"
echo xattr >"$c/data/odd/xattr.txt"
have_xattr=0
if command -v setfattr >/dev/null 2>&1 && setfattr -n user.test -v x "$c/data/odd/xattr.txt" 2>/dev/null; then
	have_xattr=1
else
	say "no user xattrs here (setfattr missing or refused): that part is skipped"
fi
for f in 0 1 2 3 4; do echo "conf $f" >"$c/conf/c$f.conf"; done
echo "nested conf" >"$c/conf/sub/n.conf"
echo single >"$c/single.txt"
for f in 0 1 2 3 4 5 6 7 8 9; do
	echo "data2 $f" >"$c/data2/x/y/g$f"
	echo "data2 top $f" >"$c/data2/t$f"
done
chown -R "$KILN_TEST_USER": "$c"
say "context: $(find "$c" -type f | wc -l) files"

digest_of() { skopeo inspect --raw "oci:$1:$2" | sha256sum | cut -d' ' -f1; }

# snapshot_of STORE TAG OUT: every path of the image with type, mode, owner,
# mtime, link target and content digest
snapshot_of() {
	rm -rf "$T/unpack"
	umoci unpack --image "$1:$2" "$T/unpack" >/dev/null
	(cd "$T/unpack/rootfs" && find . -printf '%p %y %m %U:%G %T@ %n %l\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$3"
	if [ $have_xattr = 1 ]; then
		(cd "$T/unpack/rootfs" && getfattr -R -h -d -m '^user\.' . 2>/dev/null) >>"$3"
	fi
	rm -rf "$T/unpack"
}

# snapshots_of TAG OUT: the same for the image's layer snapshots in the first
# store, which later steps mount as lower layers and clones link to
snapshots_of() {
	for d in $(skopeo inspect --config "oci:$STORE1:$1" | jq -r '.rootfs.diff_ids[]' | cut -d: -f2); do
		[ -d "$STORE1/snapshots/$d" ] || fail "no snapshot of layer $d of $1"
		echo "== $d"
		(cd "$STORE1/snapshots/$d" && find . -printf '%p %y %m %U:%G %T@ %l\n' | LC_ALL=C sort &&
			find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
	done >"$2"
}

# rebuild WHAT STEP:KEPT... : build in the first store (debug log in $T/log),
# check each COPY step (its text) kept exactly KEPT ("N of M") files, then build
# the same context with --no-cache in a fresh store: same image, same manifest
rebuild() {
	what=$1
	shift
	KILN_ROOT=$STORE1
	export KILN_LOG_LEVEL=debug
	kb -t app:1 "$c"
	unset KILN_LOG_LEVEL
	id1=$(cat "$T/out")
	for want in "$@"; do
		step=${want%:*} kept=${want##*:}
		line=$(grep -F "kiln: debug: $step: " "$T/log" | grep "files kept from the last result") ||
			fail "$what: '$step' did not reuse its last result: $(grep 'debug' "$T/log")"
		expect_contains "$line" ": $kept files kept" "$what: reuse by '$step'"
		# and the plain progress says so under the step
		grep -qE "^#[0-9]+ ${kept% of *} of [0-9]+ files unchanged since the last build of this step" "$T/log" ||
			fail "$what: no progress line for '$step' keeping $kept files: $(grep -v debug "$T/log")"
	done
	KILN_ROOT=$T/fresh
	rm -rf "$KILN_ROOT"
	build_setup
	kb -t app:1 --no-cache "$c"
	id2=$(cat "$T/out")
	if [ "$id1" != "$id2" ]; then
		snapshot_of "$STORE1" app:1 "$T/incr.txt"
		snapshot_of "$KILN_ROOT" app:1 "$T/fresh.txt"
		fail "$what: incremental image $id1 != fresh image $id2:
$(diff "$T/fresh.txt" "$T/incr.txt" | head -20)"
	fi
	expect_eq "$(digest_of "$STORE1" app:1)" "$(digest_of "$KILN_ROOT" app:1)" "$what: manifest digest"
	KILN_ROOT=$STORE1
}

KILN_ROOT=$STORE1
kb -t app:1 -t first:1 "$c"
first_id=$(cat "$T/out")
snapshot_of "$STORE1" first:1 "$T/first-before.txt"
snapshots_of first:1 "$T/first-snaps-before.txt"
grep -q '^./data/d1/s1/f2 f 644 ' "$T/first-before.txt" || fail "the first image lacks /data/d1/s1/f2"

say "round 1: contents, sizes, deletion, addition, chmod, touch, xattr"
# same size and same mtime: only the content digest tells
touch -r "$c/data/d0/s0/f1" "$T/ref"
printf 'FILE d0/s0/f1\n%0*d\n' 37 0 >"$c/data/d0/s0/f1"
touch -r "$T/ref" "$c/data/d0/s0/f1"
echo "grown content" >>"$c/data/d1/s1/f2"
rm "$c/data/d2/s2/f3"
echo new >"$c/data/d3/new.txt"
chmod 600 "$c/data/d0/s1/f4"
touch -d 2001-01-01 "$c/data/d4/s3/f5"
if [ $have_xattr = 1 ]; then setfattr -n user.test -v y "$c/data/odd/xattr.txt"; fi
chown -R "$KILN_TEST_USER": "$c"
# 205 files (symlink included); not kept: the 4 changed, the new one, the
# symlink (never cloned), the hardlink pair (shared inodes are rewritten), the xattr file
rebuild "round 1" "COPY data /data:$((197 - have_xattr)) of 205"

# A step's lineage has its parent's key: only the first COPY that changed can
# start from its last result, so the other COPY forms get a round each.
say "round 1b: --chown/--chmod into a directory of the base image"
echo "conf 0 changed" >"$c/conf/c0.conf"
echo "new conf" >"$c/conf/sub/new.conf"
rm "$c/conf/c4.conf"
chown -R "$KILN_TEST_USER": "$c"
rebuild "round 1b" "COPY --chown=1000:1000 --chmod=640 conf/ /etc/app/:4 of 6"

say "round 1c: a single file"
echo "single changed" >"$c/single.txt"
chown "$KILN_TEST_USER": "$c/single.txt"
rebuild "round 1c" "COPY single.txt /usr/local/share/single.txt:0 of 1"

say "round 1d: a destination relative to WORKDIR"
echo "data2 changed, longer" >"$c/data2/x/y/g3"
chmod 700 "$c/data2/x"
rebuild "round 1d" "COPY data2 ./d2:19 of 20"

say "round 2: a directory renamed, a hardlink pair broken, a symlink retargeted"
mv "$c/data/d3/s0" "$c/data/d3/s0r"
rm "$c/data/hl/b"
cp -p "$c/data/hl/a" "$c/data/hl/b"
ln -sfn ../d1/s1/f2 "$c/data/odd/link"
chown -R "$KILN_TEST_USER": "$c"
# not kept: the 10 renamed, the symlink, hl/b (now a file of its own). hl/a
# is kept: the manifest lists one name per inode, so it was cloned alone
rebuild "round 2" "COPY data /data:193 of 205"

say "round 3: a file replaced by a directory, a directory by a file"
rm "$c/data/d1/s0/f0"
mkdir "$c/data/d1/s0/f0"
echo inside >"$c/data/d1/s0/f0/inside"
rm -r "$c/data/d2/s3"
echo "now a file" >"$c/data/d2/s3"
chown -R "$KILN_TEST_USER": "$c"
# 196 files; not kept: the file in the new directory, the new file, the symlink
rebuild "round 3" "COPY data /data:193 of 196"

say "round 4: files joined as hardlinks, deleted from a directory with an old mtime, renamed; empty directories"
rm "$c/data/d0/s2/f9"
ln -f "$c/data/d0/s2/f8" "$c/data/d0/s2/f9"
rm "$c/data/d4/s0/f1"
touch -d 2002-02-02 "$c/data/d4/s0" "$c/data/d4/s3/f5"
rmdir "$c/data/odd/empty"
mkdir "$c/data/d4/s1/new-empty"
mv "$c/data/odd/with space.txt" "$c/data/odd/with more spaces.txt"
chown -R "$KILN_TEST_USER": "$c"
# 195 files; not kept: the new pair, the touched file, the renamed one, the symlink
rebuild "round 4" "COPY data /data:190 of 195"

say "round 5: a directory replaced by a symlink out of the context, to files of the same names"
# the clone had data/d4/s2/* as files; prune must not follow the new symlink to
# remove "data/d4/s2/NAME" on the host
host=$T/host-canary
mkdir -p "$host"
for f in "$c"/data/d4/s2/*; do
	echo canary >"$host/$(basename "$f")"
done
chown -R "$KILN_TEST_USER": "$host"
n_host=$(ls "$host" | wc -l)
rm -r "$c/data/d4/s2"
ln -s "$host" "$c/data/d4/s2"
chown -h "$KILN_TEST_USER": "$c/data/d4/s2"
m=$(find "$c/data" \( -type f -o -type l \) | wc -l)
k=$(find "$c/data" -type f -links 1 | wc -l)
rebuild "round 5" "COPY data /data:$k of $m"
expect_eq "$(ls "$host" | wc -l)" "$n_host" "round 5: files left in the host directory"
for f in "$host"/*; do
	[ "$(cat "$f")" = canary ] || fail "round 5: $f on the host was changed"
done

say "the first image is untouched"
snapshot_of "$STORE1" first:1 "$T/first-after.txt"
if ! cmp -s "$T/first-before.txt" "$T/first-after.txt"; then
	fail "the first image changed: $(diff "$T/first-before.txt" "$T/first-after.txt" | head -20)"
fi

snapshots_of first:1 "$T/first-snaps-after.txt"
if ! cmp -s "$T/first-snaps-before.txt" "$T/first-snaps-after.txt"; then
	fail "a snapshot of the first image changed: $(diff "$T/first-snaps-before.txt" "$T/first-snaps-after.txt" | head -20)"
fi
expect_eq "$(skopeo inspect --raw "oci:$STORE1:first:1" | jq -r .config.digest)" "$first_id" \
	"the first image's ID"

say "podman runs the last image and sees the new contents"
out=$(as_builder podman --runtime runc run --rm --network none "oci:$STORE1:app:1" \
	cat /data/d1/s1/f2 /usr/local/share/single.txt /data/d1/s0/f0/inside 2>&1) ||
	fail "podman run failed: $out"
expect_contains "$out" "grown content" "podman: /data/d1/s1/f2"
expect_contains "$out" "single changed" "podman: /usr/local/share/single.txt"
expect_contains "$out" "inside" "podman: /data/d1/s0/f0/inside"

say "--no-cache never reuses"
echo "last change" >"$c/data/d0/s0/f0"
chown -R "$KILN_TEST_USER": "$c"
export KILN_LOG_LEVEL=debug
kb -t app:1 --no-cache "$c"
unset KILN_LOG_LEVEL
if grep "files kept from the last result" "$T/log"; then
	fail "--no-cache reused an earlier result"
fi

say "prune drops the block indexes of the blobs it removes, and only those"
# cache entries keep every COPY layer: prune --cache clears the step cache too;
# drop app:1 and keep first:1, whose COPY layers have indexes too
ls "$STORE1/blocks" >"$T/blocks-before"
kr rmi app:1 >/dev/null
# rootless prune deletes from inside the build's user namespace: the snapshot of
# COPY --chown=1000:1000 holds a directory of a subordinate uid
kr prune --cache >"$T/prune.out" 2>"$T/prune.err" ||
	fail "rootless prune --cache failed: $(cat "$T/prune.err")"
grep -q "^deleted cache/" "$T/prune.out" || fail "prune --cache listed no cache entry: $(head -5 "$T/prune.out")"
[ -z "$(ls -A "$STORE1/cache")" ] || fail "cache/ not empty after prune --cache: $(ls "$STORE1/cache" | head -3)"
n=0
for b in "$STORE1"/blocks/*; do
	[ -e "$b" ] || continue
	[ -e "$STORE1/blobs/sha256/$(basename "$b")" ] || fail "blocks/$(basename "$b") outlived its blob"
	n=$((n + 1))
done
say "block indexes: $(wc -l <"$T/blocks-before") before prune, $n after"
[ "$n" -lt "$(wc -l <"$T/blocks-before")" ] || fail "prune removed no block index ($n left)"
for l in $(skopeo inspect --raw "oci:$STORE1:first:1" | jq -r '.layers[].digest' | cut -d: -f2); do
	if grep -qx "$l" "$T/blocks-before" && ! [ -e "$STORE1/blocks/$l" ]; then
		fail "prune removed the block index of blob $l, which first:1 still uses"
	fi
done
kr fsck >/dev/null || fail "fsck after prune"
