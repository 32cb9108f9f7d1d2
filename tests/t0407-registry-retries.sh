#!/bin/sh
# Retries: a proxy in front of the real registry answers some requests with
# 503 or 429; kiln retries them with backoff and push and pull succeed. When
# every request fails, the error names the registry, repository and status.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
need_cmd python3
registry_start
PROXY_PORT=$((REGISTRY_PORT + 2))
start_proxy() {
	python3 "$KILN_SRC/tests/registry-flaky-proxy.py" "$PROXY_PORT" "$REGISTRY_PORT" "$1" \
		"$T/proxy.log" 2>>"$T/proxy.log" &
	PROXY_PID=$!
	i=0
	until curl -sS -o /dev/null "http://127.0.0.1:$PROXY_PORT/" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "proxy did not start: $(cat "$T/proxy.log")"
		sleep 0.1
	done
}
stop_proxy() {
	[ -n "${PROXY_PID:-}" ] || return 0
	kill "$PROXY_PID" 2>/dev/null || true
	wait "$PROXY_PID" 2>/dev/null || true
	PROXY_PID=
}
add_cleanup stop_proxy
P=127.0.0.1:$PROXY_PORT
export KILN_ROOT=$T/store

start_proxy flaky
kiln import "$(busybox_rootfs_tar)" bb:1 >/dev/null
d=$(kiln push -q bb:1 "$P/flaky/bb:1")
grep -q '" 503 ' "$T/proxy.log" || fail "no 503 was injected: $(cat "$T/proxy.log")"
grep -q '" 429 ' "$T/proxy.log" || fail "no 429 was injected"
expect_eq "$(KILN_ROOT=$T/store2 kiln pull -q "$P/flaky/bb:1")" "$d" "pull through 503 and 429"
KILN_ROOT=$T/store2 kiln fsck >/dev/null || fail "store invalid"
stop_proxy

start_proxy down
expect_fail 1 "registry '$P': ping /v2/: HTTP 500" kiln pull "$P/down/bb:1"
n=$(grep -c '" 500 ' "$T/proxy.log")
[ "$n" -ge 5 ] || fail "expected a first try and 4 retries, the proxy saw $n"
