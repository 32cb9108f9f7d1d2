#!/bin/sh
# The tty progress view is linear in the output it gets and bounded in memory: 32 MiB of
# RUN output without a newline keeps only the tail of the line (4 KiB), and a failing
# step repeats that tail, not 32 MiB.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd script /usr/bin/time
build_setup

c=$(ctx progress)
cat >"$c/Dockerfile" <<'EOF2'
FROM busybox:1
RUN head -c 33554432 /dev/zero | tr '\0' x; echo -n END-OF-LINE; exit 3
EOF2
own_ctx
set +e
as_runner script -qfec "/usr/bin/time -f 'maxrss %M' -o $T/rss $KILN build --progress=tty $c" "$T/tty" \
	>/dev/null 2>&1
rc=$?
set -e
chmod a+r "$T/rss" 2>/dev/null || true
[ "$rc" = 1 ] || fail "the build should fail with exit 1, got $rc: $(tail -c 2000 "$T/tty")"
size=$(stat -c %s "$T/tty")
say "the terminal got $size bytes; kiln's peak RSS: $(cat "$T/rss")"
[ "$size" -lt 1048576 ] || fail "the tty view wrote $size bytes for a 32 MiB line"
grep -q 'END-OF-LINE' "$T/tty" || fail "the end of the line is not shown: $(tail -c 2000 "$T/tty")"
grep -q 'exit code: 3' "$T/tty" || fail "no exit status: $(tail -c 2000 "$T/tty")"
rss=$(sed -n 's/^maxrss //p' "$T/rss")
[ "$rss" -lt 40000 ] || fail "kiln used $rss kB for 32 MiB of output"
