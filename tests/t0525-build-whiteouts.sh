#!/bin/sh
# Deletions and replaced directories across steps, rootless and as root: a file
# removed in a later step is gone from the next step and from the image (a
# whiteout), and a directory removed and made again hides the old content (an
# opaque directory), whether the earlier layer came from this build or from a
# base image unpacked from its tar.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd umoci

check() {
	build_setup
	c=$(ctx "wh-$1")
	cat >"$c/Dockerfile" <<'EOF2'
FROM busybox:1
RUN mkdir -p /d/sub && echo old > /d/old && echo keep > /keep && echo gone > /gone
RUN rm /gone && rm -rf /d && mkdir -p /d && echo new > /d/new && rm /bin/arch
RUN test ! -e /gone && test ! -e /d/old && test ! -e /d/sub && test -e /d/new && \
    test ! -e /bin/arch && ls /d > /listing
EOF2
	chown -R "$KILN_TEST_USER": "$c"
	kb -t wh:1 "$c"
	rm -rf "$T/u"
	umoci unpack --image "$KILN_ROOT:wh:1" "$T/u" >/dev/null
	r=$T/u/rootfs
	[ ! -e "$r/gone" ] || fail "$1: /gone came back"
	[ ! -e "$r/d/old" ] || fail "$1: /d/old came back through the opaque /d"
	[ ! -L "$r/bin/arch" ] || fail "$1: /bin/arch (from the base) came back"
	expect_eq "$(cat "$r/listing")" new "$1: /d as the third step saw it"
	expect_eq "$(cat "$r/keep")" keep "$1: /keep"
	# the layers carry the OCI forms, not overlay's
	for b in "$KILN_ROOT"/blobs/sha256/*; do
		gzip -t "$b" 2>/dev/null && gzip -dc "$b" | tar -tvf - 2>/dev/null
	done >"$T/entries-$1"
	grep -q '\.wh\.gone$' "$T/entries-$1" || fail "$1: no .wh.gone in the layers"
	grep -q 'd/\.wh\.\.wh\.\.opq$' "$T/entries-$1" || fail "$1: no opaque marker for /d"
	grep -q '^c' "$T/entries-$1" && fail "$1: a character device reached a layer"
	# the same again with every snapshot unpacked from the tars (a fresh store's cache)
	rm -rf "$KILN_ROOT/snapshots"/*
	kb -t wh:2 --no-cache "$c"
	return 0
}

check rootless
if [ "$(id -u)" = 0 ]; then
	KILN_BUILD_AS=root
	KILN_ROOT="$T/store-root"
	check root
fi
