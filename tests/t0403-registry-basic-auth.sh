#!/bin/sh
# htpasswd basic auth on the real registry: kiln login / logout, credentials
# from auth.json and docker's config.json, wrong password = clear error,
# exit 1, and the password never printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
registry_tls_setup
REGISTRY_EXTRA_CONFIG="$REGISTRY_TLS_CONFIG
$(registry_htpasswd alice 's3cret-Pw')"
registry_start
R=$REGISTRY
A=$T/auth.json
export REGISTRY_AUTH_FILE=$A DOCKER_CONFIG=$T/docker HOME=$T/home

head -c 100000 /dev/urandom >"$T/blob"
D=sha256:$(sha256sum "$T/blob" | cut -c1-64)
# anonymous: refused with a hint
expect_fail 1 "authentication required" probe --tls-verify=false blob-put "$R/app" "$T/blob"
expect_contains "$(cat "$T/.err")" "kiln login"
# wrong password: exit 1, the user named, the password not shown
set +e
echo 'wrong-Pw' | kiln login --tls-verify=false -u alice --password-stdin "$R" >"$T/out" 2>"$T/err"
st=$?
set -e
expect_eq "$st" 1 "exit status of a failed login"
grep -q "login to '$R'.*authentication failed for user 'alice'" "$T/err" || fail "bad message: $(cat "$T/err")"
grep -q 'wrong-Pw' "$T/err" "$T/out" && fail "password printed"
[ ! -e "$A" ] || fail "failed login wrote $A"
# right password: stored in auth.json, mode 0600, readable by skopeo
echo 's3cret-Pw' | kiln login --cert-file "$T/tls/ca.crt" -u alice --password-stdin "https://$R/v2/" >"$T/out"
expect_eq "$(cat "$T/out")" "Login Succeeded!"
expect_eq "$(stat -c %a "$A")" 600 "auth file mode"
expect_eq "$(jq -r ".auths[\"$R\"].auth" "$A" | base64 -d)" "alice:s3cret-Pw" "stored entry"
skopeo login --get-login --authfile "$A" "$R" >"$T/who" 2>/dev/null && expect_eq "$(cat "$T/who")" alice "skopeo reads it"
expect_eq "$(probe --tls-verify=false blob-put "$R/app" "$T/blob")" "sent $D" "upload with stored credentials"
grep -q 's3cret' "$T/registry/log" && fail "secret in registry log"
# logout removes it; a second logout says so
expect_eq "$(kiln logout "$R")" "Removed login credentials for $R"
expect_fail 1 "not logged in to '$R'" kiln logout "$R"
expect_fail 1 "authentication required" probe --tls-verify=false blob-get "$R/app" "$D" "$T/x"
# docker's config.json (an "https://" key) is read when auth.json has nothing
mkdir -p "$DOCKER_CONFIG"
printf '{"auths":{"https://%s/v1/":{"auth":"%s"}}}' "$R" "$(printf alice:s3cret-Pw | base64)" >"$DOCKER_CONFIG/config.json"
probe --tls-verify=false blob-get "$R/app" "$D" "$T/y"
cmp "$T/blob" "$T/y" || fail "blob differs"
# and a bad one is reported with its place
printf '{"auths": {\n  oops' >"$DOCKER_CONFIG/config.json"
expect_fail 1 "$DOCKER_CONFIG/config.json:2:" probe --tls-verify=false ping "$R"
# push and pull with --creds: a wrong password is exit 1 naming the user, never the password
export KILN_ROOT=$T/store
kiln import "$(busybox_rootfs_tar)" bb:1 >/dev/null
expect_fail 1 "push 'bb:1' to '$R/app:latest': registry '$R': repository 'app': HEAD manifest 'latest': HTTP 401: authentication failed for user 'alice'" \
	kiln push --tls-verify=false --creds alice:nope-Pw bb:1 "$R/app"
grep -q 'nope-Pw' "$T/.err" && fail "password printed"
d=$(kiln push -q --cert-file "$T/tls/ca.crt" --creds alice:s3cret-Pw bb:1 "$R/app")
expect_eq "$(KILN_ROOT=$T/store2 kiln pull -q --cert-file "$T/tls/ca.crt" --creds 'alice:s3cret-Pw' "$R/app")" "$d" "pull with --creds"
expect_fail 1 "authentication failed for user 'alice'" kiln pull --tls-verify=false --creds alice:x "$R/app"
# usage errors
expect_fail 2 "login: expected one REGISTRY" kiln login a b
expect_fail 2 "--password-stdin needs --username" kiln login --password-stdin "$R"
