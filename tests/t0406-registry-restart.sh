#!/bin/sh
# The registry restarts in the middle of a large push: kiln retries the chunk
# with backoff, continues the upload session when the registry still accepts
# it (http.secret set, so sessions survive a restart), and otherwise starts
# the upload over once; the pushed digest is checked with skopeo and by
# pulling it back. A pull killed half way resumes from its partial file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
need_cmd skopeo jq
REGISTRY_EXTRA_CONFIG="  secret: kiln-test-secret"
registry_start
R=$REGISTRY
export KILN_ROOT=$T/store
mkdir "$T/big"
head -c 200M /dev/urandom >"$T/big/data"
tar -C "$T/big" -cf "$T/big.tar" data
rm -rf "$T/big"
kiln import --compression none "$T/big.tar" big:1 >/dev/null
d=$(kiln inspect big:1 | jq -r .Digest)
rm "$T/big.tar"

# push_with_restart REPO: push in the background, bounce the registry under it
push_with_restart() {
	KILN_LOG_LEVEL=debug kiln push --chunk-size 8m -j 1 big:1 "$R/$1:1" >"$T/push.out" 2>"$T/push.err" &
	pid=$!
	i=0
	until grep -q "PATCH /v2/$1/blobs/uploads" "$T/registry/log"; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "no PATCH seen: $(cat "$T/push.err")"
		sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null || say "push finished before the restart"
	registry_stop
	sleep 0.5
	registry_restart
	wait "$pid" || fail "push across a restart failed: $(cat "$T/push.err")"
	expect_eq "$(cat "$T/push.out")" "$d" "digest pushed across a restart"
	expect_contains "$(cat "$T/push.err")" "retrying"
	grep -E 'interrupted|restarting the upload' "$T/push.err" | sed 's/^/# /' || true
}

push_with_restart resumed
expect_eq "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/resumed:1")" "$d" "skopeo digest"

# without a secret the registry forgets upload sessions: the upload starts over
REGISTRY_EXTRA_CONFIG=""
registry_stop
registry_start
rm "$KILN_ROOT/registry-sources" # else the blob is mounted from resumed/
push_with_restart restarted

# a registry that goes away for good: a clear error after the retries, exit 1
rm "$KILN_ROOT/registry-sources"
kiln push --chunk-size 8m -j 1 big:1 "$R/gone:1" >"$T/push.out" 2>"$T/push.err" &
pid=$!
i=0
until grep -q "PATCH /v2/gone/blobs/uploads" "$T/registry/log"; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "no PATCH seen: $(cat "$T/push.err")"
	sleep 0.05
done
registry_stop
set +e
wait "$pid"
st=$?
set -e
expect_eq "$st" 1 "exit status when the registry is gone"
grep -q "kiln: error: push 'big:1' to '$R/gone:1': registry '$R': repository 'gone': .*Couldn't connect to server" "$T/push.err" ||
	fail "unclear error: $(tail -2 "$T/push.err")"
registry_restart

# pull it back into a new store, killing the first pull half way
export KILN_ROOT=$T/store2
kiln pull -q "$R/restarted:1" >/dev/null 2>&1 &
pid=$!
i=0
until [ "$(cat "$T"/store2/tmp/registry-*.partial 2>/dev/null | head -c 50M | wc -c)" -ge 52428800 ]; do
	i=$((i + 1))
	[ $i -lt 400 ] || break
	sleep 0.02
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
ls "$T"/store2/tmp/registry-*.partial >/dev/null 2>&1 || say "the pull finished before it was killed"
expect_eq "$(kiln pull -q "$R/restarted:1")" "$d" "resumed pull"
kiln fsck >/dev/null || fail "store invalid after a resumed pull"
ls "$T"/store2/tmp/registry-*.partial >/dev/null 2>&1 && fail "partial download left behind"
true
