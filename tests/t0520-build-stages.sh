#!/bin/sh
# Multi-stage builds: COPY --from a stage, an index and an image; --target;
# stages the target does not need are never built; independent stages overlap.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd umoci jq
build_setup

c=$(ctx stages)
cat >"$c/Dockerfile" <<'EOF2'
ARG BASE=busybox:1
FROM $BASE AS a
RUN sleep 2 && echo from-a > /a.txt

FROM $BASE AS b
RUN sleep 2 && echo from-b > /b.txt

FROM $BASE AS broken
RUN echo "this stage must never run" && exit 1

FROM $BASE
COPY --from=a /a.txt /out/a.txt
COPY --from=1 /b.txt /out/b.txt
COPY --from=busybox:1 /etc/hostname /out/hostname
CMD ["cat", "/out/a.txt", "/out/b.txt"]
EOF2
chown -R "$KILN_TEST_USER": "$c"
kr build --progress=json -t multi:1 "$c" >"$T/out" 2>"$T/events" || fail "build failed: $(cat "$T/events")"
grep -q 'this stage must never run' "$T/events" && fail "the unneeded stage 'broken' was built"

# a and b ran at the same time: each one's RUN started before the other's ended
jq -r 'select(.event=="step" and (.text|startswith("RUN sleep 2"))) | "\(.stage) \(.state) \(.time)"' \
	"$T/events" >"$T/times"
a_start=$(awk '$1==0 && $2=="running" {print $3}' "$T/times")
a_end=$(awk '$1==0 && $2=="done" {print $3}' "$T/times")
b_start=$(awk '$1==1 && $2=="running" {print $3}' "$T/times")
b_end=$(awk '$1==1 && $2=="done" {print $3}' "$T/times")
awk -v as="$a_start" -v ae="$a_end" -v bs="$b_start" -v be="$b_end" \
	'BEGIN { exit !(as < be && bs < ae) }' || fail "stages a and b did not overlap: $(cat "$T/times")"

umoci unpack --image "$KILN_ROOT:multi:1" "$T/u" >/dev/null
expect_eq "$(cat "$T/u/rootfs/out/a.txt")" from-a "COPY --from=a"
expect_eq "$(cat "$T/u/rootfs/out/b.txt")" from-b "COPY --from=1"
expect_eq "$(cat "$T/u/rootfs/out/hostname")" busybox "COPY --from=busybox:1"

# --target stops at a stage and skips the rest
kr build --progress=plain --target b -t only-b:1 "$c" >/dev/null 2>"$T/log" || fail "--target b failed: $(cat "$T/log")"
grep -q 'RUN sleep 2 && echo from-a' "$T/log" && fail "--target b built stage a"
umoci unpack --image "$KILN_ROOT:only-b:1" "$T/ub" >/dev/null
[ -f "$T/ub/rootfs/b.txt" ] || fail "--target b image lacks /b.txt"
# --target naming the broken stage fails, naming the step and the exit code
expect_fail 1 "exit code 1" kr build --progress=plain --target broken "$c"
expect_fail 2 "stage 'nope' is not defined" kr build --target nope "$c"

# --jobs 1 builds one stage at a time
kr build --progress=json --no-cache --jobs 1 -t serial:1 "$c" >/dev/null 2>"$T/events1" || fail "--jobs 1 failed"
jq -r 'select(.event=="step" and (.text|startswith("RUN sleep 2"))) | "\(.stage) \(.state) \(.time)"' \
	"$T/events1" >"$T/times1"
a_end=$(awk '$1==0 && $2=="done" {print $3}' "$T/times1")
b_start=$(awk '$1==1 && $2=="running" {print $3}' "$T/times1")
awk -v ae="$a_end" -v bs="$b_start" 'BEGIN { exit !(bs >= ae) }' || fail "--jobs 1 overlapped stages: $(cat "$T/times1")"
