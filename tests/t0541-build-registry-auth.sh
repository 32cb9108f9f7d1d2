#!/bin/sh
# kiln build's registry options against a TLS registry with htpasswd auth
# (Debian's docker-registry): --cert-file, --tls-verify=false, --creds and
# --authfile reach the pull of the base and the push of the result, rootless;
# a missing or wrong password and an untrusted certificate are clear errors,
# exit 1, and the password is never printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
need_cmd skopeo jq
registry_tls_setup
REGISTRY_EXTRA_CONFIG="$REGISTRY_TLS_CONFIG
$(registry_htpasswd alice 's3cret-Pw')"
registry_start
R=$REGISTRY
CA=$T/tls/ca.crt

KILN_ROOT=$T/seed kiln import "$(busybox_rootfs_tar)" busybox:1 >/dev/null
skopeo copy -q --dest-tls-verify=false --dest-creds alice:s3cret-Pw \
	"oci:$T/seed:busybox:1" "docker://$R/busybox:1"
mkdir -p "$T/app"
printf 'FROM %s/busybox:1\nRUN echo built >/built\nCMD ["cat", "/built"]\n' "$R" >"$T/app/Dockerfile"
chown -R "$KILN_TEST_USER": "$T/app" 2>/dev/null || true
kb() { as_builder env KILN_ROOT="$T/store" "$KILN" "$@"; }

# the certificate is verified: untrusted is an error naming the registry
expect_fail 1 "FROM $R/busybox:1: pull '$R/busybox:1': registry '$R'" kb build -q "$T/app"
expect_contains "$(cat "$T/.err")" "--tls-verify=false"
# anonymous: refused with a hint; a wrong password names the user, not the password
expect_fail 1 "registry '$R': authentication required (no credentials; use 'kiln login $R')" kb build -q --cert-file "$CA" "$T/app"
expect_fail 1 "authentication failed for user 'alice'" \
	kb build -q --tls-verify=false --creds alice:wrong-Pw "$T/app"
grep -q 'wrong-Pw' "$T/.err" "$T/.out" && fail "password printed"
# --cert-file and --creds: pulled, built, pushed
kb build -q --cert-file "$CA" --creds alice:s3cret-Pw --push -t "$R/app:1" "$T/app" >"$T/out" ||
	fail "build with --creds"
d=$(skopeo inspect --tls-verify=false --creds alice:s3cret-Pw --format '{{.Digest}}' "docker://$R/app:1")
expect_eq "$(sed -n 2p "$T/out")" "$R/app:1@$d" "pushed with --creds"
grep -q 's3cret' "$T/out" "$T/registry/log" && fail "password printed"
# kiln login --authfile, then build --authfile --tls-verify=false: pull again (always) and push
echo 's3cret-Pw' | as_builder "$KILN" login --authfile "$T/auth.json" --cert-file "$CA" \
	-u alice --password-stdin "$R" >/dev/null
kb build --progress=plain --pull=always --tls-verify=false --authfile "$T/auth.json" \
	--push -t "$R/app:2" "$T/app" >"$T/out2" 2>"$T/log2" || fail "build --authfile: $(cat "$T/log2")"
grep -q "^# pulled $R/busybox:1: sha256:" "$T/log2" || fail "--pull=always did not pull: $(cat "$T/log2")"
d2=$(skopeo inspect --tls-verify=false --creds alice:s3cret-Pw --format '{{.Digest}}' "docker://$R/app:2")
expect_eq "$(sed -n 2p "$T/out2")" "$R/app:2@$d2" "pushed with --authfile"
# the push failing on auth is exit 1, after the build, naming the registry
expect_fail 1 "kiln: error: --push: push '$R/app:3': " \
	kb build -q --tls-verify=false --push -t "$R/app:3" "$T/app"
expect_contains "$(cat "$T/.err")" "registry '$R': authentication required"
