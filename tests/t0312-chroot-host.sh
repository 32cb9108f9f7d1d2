#!/bin/sh
# --isolation=chroot on the host, rootless and as root: RUN works in the
# chroot (a user added, chown, WORKDIR made inside the root, /dev/null a
# device), nothing kiln added (/dev nodes) reaches a layer, and the layers
# are the same, byte for byte, as the sandbox's on the copy storage.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
build_setup

c=$(ctx chroot)
cat >"$c/Dockerfile" <<'EOF2'
FROM busybox:1
RUN echo u1:x:1234:1234::/:/bin/sh >> /etc/passwd && echo hi > /made && chown 1234 /made && \
    rm /linuxrc && test -c /dev/null && echo quiet > /dev/null
WORKDIR /a/b
RUN pwd > here
EOF2

kb --isolation=chroot --source-date-epoch=0 -t c:1 "$c"
grep -q '^# isolation: chroot (as asked: --isolation=chroot)$' "$T/log" || fail "$(cat "$T/log")"
grep -q '^# storage: copy' "$T/log" || fail "chroot without the copy storage: $(cat "$T/log")"
r=$(unpack c:1)
expect_eq "$(cat "$r/a/b/here")" "/a/b" "WORKDIR"
expect_eq "$(ls -A "$r/dev")" "" "/dev in the image"
expect_eq "$(stat -c %u "$r/made")" 1234 "chown"

kb --isolation=sandbox --storage=copy --source-date-epoch=0 --no-cache -t s:1 "$c"
grep -q '^# isolation: sandbox (namespaces, as asked)$' "$T/log" || fail "$(cat "$T/log")"
expect_eq "$(skopeo inspect --raw "oci:$KILN_ROOT:c:1" | jq -c '[.layers[].digest]')" \
	"$(skopeo inspect --raw "oci:$KILN_ROOT:s:1" | jq -c '[.layers[].digest]')" \
	"layers of chroot and sandbox isolation"

set +e
as_runner "$KILN" build --isolation=chroot --storage=overlay -t o:1 "$c" >/dev/null 2>"$T/log"
rc=$?
set -e
expect_eq "$rc" 2 "--isolation=chroot --storage=overlay (a usage error)"
grep -q 'storage=overlay: chroot isolation works on the copy storage only' "$T/log" ||
	fail "$(cat "$T/log")"
printf 'FROM busybox:1\nRUN --mount=type=tmpfs,target=/t true\n' >"$c/Dockerfile.m"
kb_fail --isolation=chroot -f "$c/Dockerfile.m" -t m:1 "$c"
grep -q 'RUN --mount needs namespaces, which chroot isolation does not have' "$T/log" ||
	fail "$(cat "$T/log")"

# what a step leaves running in its process group is killed when it ends
tag=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
printf 'FROM busybox:1\nRUN (sleep 3%s >/dev/null 2>&1 &) ; echo started\n' "$((0x$tag % 1000))" \
	>"$c/Dockerfile.bg"
start=$(date +%s)
kb --isolation=chroot -f "$c/Dockerfile.bg" -t bg:1 "$c"
[ $(($(date +%s) - start)) -lt 60 ] || fail "the build waited for the background sleep"
sleep 0.5
! pgrep -x -f "sleep 3$((0x$tag % 1000))" >/dev/null || fail "the step's sleep outlived it"

# the same as root (real root: chroot in the initial user namespace, mknod)
if [ "$KILN_BUILD_AS" != root ] && [ "$(id -u)" = 0 ]; then
	say "again as root"
	KILN_BUILD_AS=root sh "$0"
fi
