#!/bin/sh
# ADD from a URL is bounded: a size limit (KILN_ADD_MAX_SIZE, default 4 GiB), an overall
# timeout (KILN_ADD_TIMEOUT, default 3600 s) and a low-speed timeout (below 1 KiB/s for
# KILN_ADD_LOW_SPEED_TIME, default 60 s); each failure names the URL. A server that
# never ends or trickles cannot hold a build or fill the disk.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd python3 curl

PORT=$((20000 + $$ % 20000 + 9))
python3 "$KILN_SRC/tests/hostile-http-server.py" "$PORT" "$T/server.log" 2>"$T/server.err" &
SERVER=$!
stop_server() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
add_cleanup stop_server
i=0
until curl -sS -o /dev/null "http://127.0.0.1:$PORT/v2/" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "server did not start: $(cat "$T/server.err")"
	sleep 0.1
done
U=http://127.0.0.1:$PORT
build_setup
d=$(ctx app)

# add URL [ENV...]: a build of 'ADD URL /got' that must fail, within 30 s, naming URL
add_fails() {
	url=$1 pat=$2
	shift 2
	printf 'FROM busybox:1\nADD %s /got\n' "$url" >"$d/Dockerfile"
	own_ctx
	set +e
	as_runner env "$@" timeout 30 "$KILN" build --progress=plain --no-cache "$d" >"$T/out" 2>"$T/log"
	rc=$?
	set -e
	[ "$rc" = 1 ] || fail "ADD $url ($*): expected exit 1, got $rc: $(cat "$T/log")"
	grep -qF "$url" "$T/log" || fail "ADD $url: the error does not name the URL: $(cat "$T/log")"
	grep -qF "$pat" "$T/log" || fail "ADD $url: stderr lacks '$pat': $(cat "$T/log")"
}

say "a body that never ends stops at the size limit"
add_fails "$U/endless" "larger than the ADD size limit of 1048576 bytes" KILN_ADD_MAX_SIZE=1m
sleep 0.5
sent=$(awk '/endless/ {print $3}' "$T/server.log" | sort -n | tail -1)
say "the server got $sent bytes out"
[ -n "$sent" ] && [ "$sent" -lt $((64 << 20)) ] || fail "kiln read $sent bytes of an endless URL"

say "a Content-Length over the limit is refused before the body"
add_fails "$U/sized/2000000" "larger than the ADD size limit of 1048576 bytes" KILN_ADD_MAX_SIZE=1m
printf 'FROM busybox:1\nADD %s /got\n' "$U/sized/1000000" >"$d/Dockerfile"
as_runner env KILN_ADD_MAX_SIZE=1m "$KILN" build --progress=plain -t ok:1 "$d" >"$T/out" 2>"$T/log" ||
	fail "ADD under the limit: $(cat "$T/log")"

say "a server that trickles hits the low-speed timeout"
add_fails "$U/trickle" "too slow" KILN_ADD_LOW_SPEED_TIME=2

say "and the overall timeout"
add_fails "$U/trickle" "timed out" KILN_ADD_TIMEOUT=3

say "bad settings are usage errors"
add_fails "$U/sized/10" "KILN_ADD_MAX_SIZE" KILN_ADD_MAX_SIZE=lots
grep -qF "expected a size" "$T/log" || fail "bad KILN_ADD_MAX_SIZE: $(cat "$T/log")"
