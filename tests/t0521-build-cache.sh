#!/bin/sh
# The step cache: for each kind of change, exactly the steps from the first
# one it affects rebuild; an mtime-only change and a no-op rebuild reuse all.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd umoci
build_setup

c=$(ctx cache)
printf 'a\n' >"$c/a.txt"
printf 'b\n' >"$c/b.txt"
write_dockerfile() {
	cat >"$c/Dockerfile" <<EOF2
ARG BASE=busybox:1
FROM \$BASE
ARG V=one
COPY a.txt /a.txt
RUN cat /a.txt > /copy-a
COPY --chown=$1 b.txt /b.txt
RUN echo \$V > /v
RUN cat /dev/urandom | head -c 16 | od -An -tx1 > /stamp
EOF2
	chown -R "$KILN_TEST_USER": "$c"
}
write_dockerfile 1:1

# expect_steps "RUN-OR-CACHED..." for the five layer steps, in order
expect_steps() {
	got=""
	for s in "COPY a.txt /a.txt" "RUN cat /a.txt > /copy-a" "COPY --chown=" "RUN echo \$V > /v" "RUN cat /dev/urandom"; do
		if steps_cached | grep -qF -- "$s"; then got="$got cached"
		elif steps_run | grep -qF -- "$s"; then got="$got run"
		else got="$got missing"; fi
	done
	expect_eq "$got" " $1" "$2 (COPY a, RUN cat, COPY b, RUN echo, RUN stamp)"
}

kb -t c:1 "$c"
expect_steps "run run run run run" "first build"
first=$(cat "$T/out")

kb -t c:1 "$c"
expect_steps "cached cached cached cached cached" "no-op rebuild"

touch -d '2001-01-01' "$c/a.txt" "$c/b.txt"
kb -t c:1 "$c"
expect_steps "cached cached cached cached cached" "mtime-only change"

printf 'B\n' >"$c/b.txt"
kb -t c:1 "$c"
expect_steps "cached cached run run run" "b.txt content changed"
umoci unpack --image "$KILN_ROOT:c:1" "$T/u1" >/dev/null
expect_eq "$(cat "$T/u1/rootfs/b.txt")" B "new content of /b.txt"

kb -t c:1 --build-arg V=two "$c"
expect_steps "cached run run run run" "build arg changed"
umoci unpack --image "$KILN_ROOT:c:1" "$T/u2" >/dev/null
expect_eq "$(cat "$T/u2/rootfs/v")" two "the new build arg"

kb -t c:1 --build-arg V=two "$c"
expect_steps "cached cached cached cached cached" "same build arg again"

write_dockerfile 2:2
kb -t c:1 --build-arg V=two "$c"
expect_steps "cached cached run run run" "--chown changed"
umoci unpack --image "$KILN_ROOT:c:1" "$T/u3" >/dev/null
expect_eq "$(stat -c %u:%g "$T/u3/rootfs/b.txt")" 2:2 "owner after --chown change"

kb -t c:1 --build-arg V=two --no-cache "$c"
expect_steps "run run run run run" "--no-cache"

# a changed base image misses from FROM on
mkdir -p "$T/base/etc"
tar -C "$T/base" -xf "$(busybox_rootfs_tar)"
echo changed >"$T/base/etc/motd"
tar -C "$T/base" -cf "$T/base2.tar" .
kr import "$T/base2.tar" busybox:1 >/dev/null
kb -t c:1 --build-arg V=two "$c"
expect_steps "run run run run run" "base image changed"

# the cache survives, and kiln prune keeps what it needs
kr prune >/dev/null || fail "prune failed"
kb -t c:1 --build-arg V=two "$c"
expect_steps "cached cached cached cached cached" "rebuild after prune"
kr fsck >/dev/null || fail "fsck after prune found damage"
