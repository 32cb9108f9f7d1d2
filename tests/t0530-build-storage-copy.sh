#!/bin/sh
# --storage=copy (no overlayfs: steps work on a plain copy of the rootfs and the
# diff is found by walking it) makes the same layers as --storage=overlay.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
build_setup
export SOURCE_DATE_EPOCH=1700000000

c=$(ctx storage)
echo copied >"$c/file.txt"
# an archive whose entry is a hard link to a file of the image: overlayfs copies
# that file up, so the layer holds both names
python3 - "$c/links.tar" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo("etc/group-link")
    i.type, i.linkname, i.mtime = tarfile.LNKTYPE, "etc/group", 1600000000
    t.addfile(i)
PY
cat >"$c/Dockerfile" <<'DF'
FROM busybox:1 AS src
RUN mkdir -p /out && echo from-stage >/out/f && chmod 640 /out/f

FROM busybox:1
RUN echo one >/one && mkdir -p /data/sub /data/keep && echo two >/data/sub/two && \
    echo three >/data/sub/three && ln -s /one /data/link && echo k >/data/keep/k
RUN rm /etc/shadow && rm -rf /data/sub && mkdir /data/sub && echo new >/data/sub/new && \
    echo more >>/one && chmod 600 /data/keep/k
RUN chown -R 1000:1000 /data/keep && chown -h 1000:1000 /data/link && mkfifo /data/fifo
COPY file.txt /app/
COPY --from=src /out/f /app/from-stage
# a COPY into a directory of the image, replacing one of its files
COPY file.txt /etc/hostname
COPY file.txt /etc/
ADD links.tar /
WORKDIR /work/dir
RUN echo hi >here && rm -rf /root
# touched, not changed: overlayfs copies each up, so the layer holds it (as BuildKit's)
RUN chmod 0755 /bin/busybox && chown 0:0 /one && ln /data/keep/k /data/k2
DF

for s in overlay copy; do
	start=$(date +%s.%N)
	kb --no-cache --storage=$s -t st:$s "$c"
	echo "# $s build: $(awk "BEGIN { printf \"%.2f\", $(date +%s.%N) - $start }") s" >&2
	cp "$T/log" "$T/log-$s"
	cfg st:$s .rootfs.diff_ids >"$T/ids-$s"
	r=$(unpack st:$s)
	(cd "$r" && find . -printf '%p %y %m %u %g %s %l\n' | LC_ALL=C sort) >"$T/tree-$s"
done
grep -q 'storage: copy' "$T/log-copy" || fail "the copy build does not say it uses copy storage: $(cat "$T/log-copy")"
! grep -q 'storage: copy' "$T/log-overlay" || fail "the overlay build says copy storage"
[ "$(jq length "$T/ids-copy")" -ge 10 ] || fail "too few layers: $(cat "$T/ids-copy")"
diff -u "$T/tree-overlay" "$T/tree-copy" >&2 || fail "the unpacked trees differ"
diff -u "$T/ids-overlay" "$T/ids-copy" >&2 || fail "the layer diffIDs differ"

# what the steps did is in the image
r=$T/u-st:copy/rootfs
expect_eq "$(cat "$r/one")" "one
more" "/one"
[ ! -e "$r/etc/shadow" ] || fail "/etc/shadow was not deleted"
[ ! -e "$r/data/sub/two" ] || fail "the replaced directory kept /data/sub/two"
expect_eq "$(stat -c %u:%g "$r/data/keep/k")" 1000:1000 "owner of /data/keep/k"
expect_eq "$(cat "$r/app/from-stage")" from-stage "COPY --from"
expect_eq "$(cat "$r/etc/hostname")" copied "COPY over a file of the image"
expect_eq "$(cat "$r/etc/group-link")" "$(cat "$r/etc/group")" "ADD's hard link to /etc/group"
expect_eq "$(cat "$r/work/dir/here")" hi "WORKDIR"

# $KILN_STORAGE is the default; a bad value is a usage error
as_runner env KILN_STORAGE=copy "$KILN" build --progress=plain -t st:env "$c" >"$T/out" 2>"$T/log" ||
	fail "KILN_STORAGE=copy build: $(cat "$T/log")"
grep -q 'storage: copy' "$T/log" || fail "KILN_STORAGE=copy was not used: $(cat "$T/log")"
set +e
as_runner "$KILN" build --storage=zfs "$c" >/dev/null 2>"$T/log"
rc=$?
set -e
expect_eq "$rc" 2 "exit status of --storage=zfs"
grep -q "expected overlay, copy or auto, got 'zfs'" "$T/log" || fail "bad message: $(cat "$T/log")"

# The copy build mounts no overlay: strace sees every mount (as root, in a
# store of its own); the same trace of an overlay build shows that it would.
if [ "$(id -u)" = 0 ] && command -v strace >/dev/null 2>&1; then
	rs=$T/rootstore
	KILN_ROOT=$rs "$KILN" import "$(busybox_rootfs_tar)" busybox:1 >/dev/null
	for s in overlay copy; do
		KILN_ROOT=$rs strace -f -qq -e trace=mount,fsopen -o "$T/strace-$s" \
			"$KILN" build --no-cache --storage=$s -q -t st:$s "$c" >"$T/out" 2>"$T/log" ||
			fail "root --storage=$s build: $(cat "$T/log")"
		grep -q 'mount(' "$T/strace-$s" || fail "strace saw no mount at all"
		skopeo inspect --config --raw "oci:$rs:st:$s" | jq -cS .rootfs.diff_ids >"$T/ids-root-$s"
		diff -u "$T/ids-overlay" "$T/ids-root-$s" >&2 || fail "root --storage=$s: other diffIDs"
	done
	grep overlay "$T/strace-overlay" | grep -qv '= -1' || fail "strace saw no overlay mount"
	if grep overlay "$T/strace-copy" | grep -v '= -1' >&2; then
		fail "the copy build mounted an overlay"
	fi
fi

# A store on an overlayfs (as in a container) cannot hold an overlay's upper
# layer: the default falls back to copy, with a warning, and the build works.
# (A step that deletes a file still fails there: the snapshots' whiteouts are
# 0/0 character devices, which overlayfs refuses to create.)
if [ "$(id -u)" = 0 ]; then
	c2=$(ctx auto)
	printf 'FROM busybox:1\nRUN echo hi >/x\nCOPY Dockerfile /d\nRUN cat /x\n' >"$c2/Dockerfile"
	mkdir -p "$T/ovl/l" "$T/ovl/u" "$T/ovl/w" "$T/ovl/m"
	unshare -m sh -c 'mount -t overlay overlay -o "lowerdir=$1/l,upperdir=$1/u,workdir=$1/w" "$1/m" &&
		KILN_ROOT=$1/m/store "$2" import "$3" busybox:1 >/dev/null &&
		KILN_ROOT=$1/m/store "$2" build --progress=plain "$4"' sh "$T/ovl" "$KILN" \
		"$(busybox_rootfs_tar)" "$c2" >"$T/out" 2>"$T/log" ||
		fail "build with the store on an overlay: $(cat "$T/log")"
	grep -q "warning: overlayfs cannot be mounted in '.*/tmp': using copy storage" "$T/log" ||
		fail "no warning: $(cat "$T/log")"
	grep -q 'storage: copy' "$T/log" || fail "copy storage not used: $(cat "$T/log")"
fi
