#!/bin/sh
# The BuildKit-era COPY/ADD flags through `kiln build`: --link, --parents,
# --exclude, ADD --checksum; and --no-cache-filter rebuilding one stage only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd umoci sha256sum
build_setup

c=$(ctx flags)
mkdir -p "$c/src/a/deep" "$c/src/b" "$c/logs"
echo one >"$c/src/a/deep/one.txt"
echo two >"$c/src/b/two.txt"
echo skip >"$c/src/a/skip.log"
echo payload >"$c/payload.bin"
sum=$(sha256sum "$c/payload.bin" | cut -d' ' -f1)
cat >"$c/Dockerfile" <<EOF2
FROM busybox:1
COPY --link src/b/two.txt /linked/two.txt
COPY --parents src/a/deep/one.txt src/b/two.txt /p/
COPY --exclude=*.log src/a /excl/
ADD --checksum=sha256:$sum payload.bin /payload.bin
EOF2
chown -R "$KILN_TEST_USER": "$c"
kb -t f:1 "$c"
umoci unpack --image "$KILN_ROOT:f:1" "$T/u" >/dev/null
r=$T/u/rootfs
expect_eq "$(cat "$r/linked/two.txt")" two "COPY --link"
expect_eq "$(cat "$r/p/src/a/deep/one.txt")" one "COPY --parents keeps the path"
expect_eq "$(cat "$r/p/src/b/two.txt")" two "COPY --parents, second source"
expect_eq "$(cat "$r/excl/deep/one.txt")" one "COPY --exclude keeps the rest"
[ ! -e "$r/excl/skip.log" ] || fail "COPY --exclude=*.log copied skip.log"
expect_eq "$(cat "$r/payload.bin")" payload "ADD --checksum"

# a wrong checksum fails, naming the file and both digests' expectation
sed -i "s/--checksum=sha256:$sum/--checksum=sha256:$(printf '%064d' 0)/" "$c/Dockerfile"
expect_fail 1 "payload.bin" kr build "$c"
grep -qi "checksum" "$T/.err" || fail "the checksum error does not say checksum: $(cat "$T/.err")"

# --no-cache-filter rebuilds the named stage and what depends on it, nothing else
cat >"$c/Dockerfile" <<'EOF2'
FROM busybox:1 AS base
RUN echo base > /base
FROM busybox:1 AS tool
RUN echo tool > /tool
FROM base
COPY --from=tool /tool /tool
RUN cat /base /tool > /both
EOF2
kb -t nf:1 "$c"
kb -t nf:1 --no-cache-filter tool "$c"
steps_cached | grep -q 'echo base' || fail "--no-cache-filter tool rebuilt stage base"
steps_run | grep -q 'echo tool' || fail "--no-cache-filter tool did not rebuild stage tool"
