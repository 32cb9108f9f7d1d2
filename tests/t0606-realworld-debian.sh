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

month=$(date -u +%Y%m)
base=$KILN_BUILD/testdata/debian-bookworm-minbase-gcc-$month.tar
mirror=${KILN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
if ! [ -f "$base" ]; then
	mkdir -p "$KILN_BUILD/testdata"
	curl -fsS -o /dev/null --max-time 20 "$mirror/dists/bookworm/Release" ||
		skip "cannot reach $mirror"
	rm -rf "$KILN_BUILD"/testdata/debian-bookworm-minbase-gcc-*.tar "$base.tmp"
	say "making $base with mmdebstrap"
	# rootless (unshare mode, as the test user): no mount on the host's
	# side that a busy /proc could leave behind
	mkdir -p "$T/mm"
	chown "$KILN_TEST_USER:" "$T/mm"
	as_builder env TMPDIR="$T/mm" mmdebstrap --quiet --format=tar --variant=minbase \
		--mode=unshare --include=gcc,libc6-dev,libcap2-bin --skip=cleanup/apt/lists \
		bookworm "$T/mm/base.tar" "$mirror" || fail "mmdebstrap failed"
	mv "$T/mm/base.tar" "$base.tmp"
	chown 0:0 "$base.tmp"
	mv "$base.tmp" "$base"
fi

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
