#!/bin/sh
# Downloads are bounded: a registry that serves more bytes than a blob's descriptor says
# (chunked, without end) is cut off at size + 1 with an error, and neither memory nor
# the disk grows with what it sends.
. "$(dirname "$0")/lib.sh"
need_cmd python3 curl

PORT=$((20000 + $$ % 20000 + 7))
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
chmod 0666 "$T/server.log" 2>/dev/null || true

say "a layer blob that never ends"
export KILN_ROOT=$T/store
expect_fail 1 "is larger than the 1000 bytes its descriptor says" \
	as_builder timeout 60 env KILN_ROOT="$KILN_ROOT" "$KILN" pull -q "127.0.0.1:$PORT/big:1"
grep -qF "127.0.0.1:$PORT" "$T/.err" || fail "the error does not name the registry: $(cat "$T/.err")"
sleep 0.5
sent=$(awk '/blobs/ {print $3}' "$T/server.log" | sort -n | tail -1)
say "the server got $sent bytes out before kiln hung up"
[ -n "$sent" ] && [ "$sent" -lt $((64 << 20)) ] || fail "kiln read $sent bytes of a 1000-byte blob"
left=$(du -sk "$KILN_ROOT/tmp" | cut -f1)
[ "$left" -lt 1024 ] || fail "tmp/ holds $left kB after the refused blob"
