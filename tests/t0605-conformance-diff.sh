#!/bin/sh
# Differential conformance: every offline case of the three corpora in
# $KILN_CONFORMANCE_DIR is built by kiln (rootless) and by buildah on the same
# busybox base, and the two images are compared file by file and config field by
# field (tests/conformance/diff.py). Where buildah deviates from BuildKit, the
# reviewed table tests/conformance/deviations.md says what kiln must give instead.
# Fails on any unexplained difference and on any stale row of the table.
. "$(dirname "$0")/lib.sh"
need_cmd buildah skopeo python3
for c in buildah-conformance buildah-bud kaniko; do
	[ -d "$KILN_CONFORMANCE_DIR/$c" ] ||
		skip "no $c corpus in $KILN_CONFORMANCE_DIR (set KILN_CONFORMANCE_DIR)"
done

# buildah as root (rootless, its overlay leaks user.overlay.* xattrs into
# layers); a build it leaves half-done must not keep mounts below $T
unmount_all() {
	grep -o " $T/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
}
[ "$(id -u)" != 0 ] || add_cleanup unmount_all

# the layer walker itself first: whiteouts, opaque directories, hard links
TMPDIR=$T python3 "$KILN_SRC/tests/conformance/test_oci.py" || fail "tests/conformance/oci.py is broken"

mkdir -m 0755 "$T/work"
set +e
/usr/bin/env python3 "$KILN_SRC/tests/conformance/diff.py" --kiln "$KILN" \
	--conformance-dir "$KILN_CONFORMANCE_DIR" --busybox-tar "$(busybox_rootfs_tar)" \
	--workdir "$T/work" --user "$KILN_TEST_USER" --results "$KILN_BUILD/conformance-diff.tsv" \
	${KILN_CONFORMANCE_ONLY:+--only "$KILN_CONFORMANCE_ONLY"}
rc=$?
set -e
say "per-case verdicts: $KILN_BUILD/conformance-diff.tsv"
[ "$rc" = 0 ] || fail "kiln's images differ from buildah's where tests/conformance/deviations.md explains nothing, or a row of it is stale (see DIFF and STALE above)"
