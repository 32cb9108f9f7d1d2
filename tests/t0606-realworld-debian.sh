#!/bin/sh
# Real-world shape of the differential test: a Debian bookworm base made by
# mmdebstrap (minbase, plus gcc, libc6-dev and libcap2-bin, apt lists kept),
# imported into kiln and buildah; then an apt-get install, a multi-stage gcc
# build, useradd + USER and setcap, each built by both, compared as t0605 does
# (tests/conformance/realworld.py, noise rows in tests/conformance/deviations.md)
# and run under podman. Needs deb.debian.org. The base tarball is cached in the
# build tree, one per month, so only the first run of a month pays mmdebstrap
# (about 40 s).
. "$(dirname "$0")/lib.sh"
need_root
need_cmd mmdebstrap buildah skopeo podman python3

debian_base_tar
base=$DEBIAN_BASE

unmount_all() {
	grep -o " $T/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
}
add_cleanup unmount_all

mkdir -m 0755 "$T/work"
set +e
/usr/bin/env python3 "$KILN_SRC/tests/conformance/realworld.py" --kiln "$KILN" \
	--base-tar "$base" --workdir "$T/work" --user "$KILN_TEST_USER" \
	${KILN_REALWORLD_ONLY:+--only "$KILN_REALWORLD_ONLY"}
rc=$?
set -e
[ "$rc" = 0 ] || fail "a real-world image differs from buildah's or does not run (see DIFF above)"
