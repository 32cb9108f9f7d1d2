#!/bin/sh
# Bearer tokens: the real registry in "auth: token:" mode, a small token
# server from the tests; kiln follows the WWW-Authenticate challenge, caches
# tokens per scope, and reports a wrong password clearly.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
token_server_start bob 'tok-Pw'
REGISTRY_EXTRA_CONFIG=$TOKEN_AUTH_CONFIG
registry_start
R=$REGISTRY
export REGISTRY_AUTH_FILE=$T/auth.json DOCKER_CONFIG=$T/docker HOME=$T/home

head -c 3000000 /dev/urandom >"$T/blob"
D=sha256:$(sha256sum "$T/blob" | cut -c1-64)
expect_fail 1 "authentication failed for user 'bob'" sh -c "echo nope | '$KILN' login -u bob --password-stdin $R"
echo 'tok-Pw' | kiln login -u bob --password-stdin "$R" >/dev/null
expect_eq "$(probe --chunk 1m blob-put "$R/team/app" "$T/blob")" "sent $D" "push with a token"
# one token per scope, reused across the POST, PATCH and PUT of the upload
n=$(grep -c 'GET /token.*scope=repository%3Ateam' "$T/token.log")
[ "$n" = 1 ] || fail "$n token requests for one upload: $(cat "$T/token.log")"
expect_eq "$(probe blob-put "$R/public/base" "$T/blob" team/app)" "mounted $D" "mount with a two-repository scope"
grep -q 'scope=repository%3Apublic%2Fbase%3Apull%2Cpush&scope=repository%3Ateam%2Fapp%3Apull' "$T/token.log" ||
	grep -q 'scope=repository%3Apublic%2Fbase%3Apull%2Cpush' "$T/token.log" || fail "no mount scope: $(cat "$T/token.log")"
probe blob-get "$R/team/app" "$D" "$T/got"
cmp "$T/blob" "$T/got" || fail "blob differs"
kiln logout "$R" >/dev/null
# anonymous: pull of public/ works, team/ is refused with a hint
probe blob-get "$R/public/base" "$D" "$T/anon"
cmp "$T/blob" "$T/anon" || fail "anonymous blob differs"
expect_fail 1 "registry '$R': repository 'team/app': GET blob '$D': HTTP 401: authentication required" \
	probe blob-get "$R/team/app" "$D" "$T/x"
grep -q 'tok-Pw' "$T/.err" && fail "password printed"
# an identity token (docker's "identitytoken") goes through the OAuth2 refresh-token grant
printf '{"auths":{"%s":{"identitytoken":"tok-Pw-refresh"}}}' "$R" >"$T/idt.json"
probe blob-get "$R/team/app" "$D" "$T/idt" 2>"$T/idt.err" && fail "anonymous read of team/app"
REGISTRY_AUTH_FILE=$T/idt.json probe blob-get "$R/team/app" "$D" "$T/idt"
cmp "$T/blob" "$T/idt" || fail "blob differs"
grep -q '"POST /token' "$T/token.log" || fail "no refresh-token grant: $(cat "$T/token.log")"
printf '{"auths":{"%s":{"identitytoken":"stale"}}}' "$R" >"$T/idt.json"
REGISTRY_AUTH_FILE=$T/idt.json expect_fail 1 "the identity token was refused" probe blob-get "$R/team/app" "$D" "$T/x"
true
