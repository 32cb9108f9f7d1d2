#!/bin/sh
# TLS: a registry with a certificate from a CA the test generates. Verified by
# default (a clear error), trusted through --cert-file or SSL_CERT_FILE, or
# not verified with --tls-verify=false.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
registry_tls_setup
REGISTRY_EXTRA_CONFIG=$REGISTRY_TLS_CONFIG
registry_start
R=$REGISTRY

head -c 300000 /dev/urandom >"$T/blob"
D=sha256:$(sha256sum "$T/blob" | cut -c1-64)
expect_fail 1 "registry '$R'" probe ping "$R"
expect_contains "$(cat "$T/.err")" "--tls-verify=false"
# it spoke TLS, gave up in the handshake, and never asked again over plain http:
# the registry served kiln no request at all (registry_start's curl was served)
served='"GET /v2/ HTTP/[0-9.]+" 200 [0-9]+ "[^"]*" "kiln/'
registry_log_has 'http: TLS handshake error' || fail "no TLS handshake was tried: $(cat "$T/registry/log")"
! grep -qE "$served" "$T/registry/log" || fail "kiln was served without a verified certificate"
expect_eq "$(probe --tls-verify=false ping "$R")" ok "--tls-verify=false"
registry_log_has "$served" || fail "the unverified ping was not served: $(cat "$T/registry/log")"
expect_eq "$(probe --ca "$T/tls/ca.crt" blob-put "$R/app" "$T/blob")" "sent $D" "--ca"
expect_eq "$(SSL_CERT_FILE=$T/tls/ca.crt probe blob-put "$R/app" "$T/blob")" "existed $D" "SSL_CERT_FILE"
SSL_CERT_FILE=$T/tls/ca.crt probe blob-get "$R/app" "$D" "$T/got"
cmp "$T/blob" "$T/got" || fail "blob over TLS differs"
# a wrong CA is refused
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=other" \
	-keyout "$T/o.key" -out "$T/o.crt" 2>/dev/null
expect_fail 1 "registry '$R'" probe --ca "$T/o.crt" ping "$R"
# podman's per-registry trust: ~/.config/containers/certs.d/HOST/ca.crt
mkdir -p "$T/cfg/containers/certs.d/$R"
cp "$T/tls/ca.crt" "$T/cfg/containers/certs.d/$R/ca.crt"
expect_eq "$(XDG_CONFIG_HOME=$T/cfg probe ping "$R")" ok "certs.d"
# kiln login honours the same options
expect_fail 1 "login to '$R'" sh -c "echo pw | '$KILN' login --authfile '$T/a.json' -u u --password-stdin '$R'"
