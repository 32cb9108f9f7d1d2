#!/bin/sh
# The distribution API against Debian's docker-registry over plain HTTP:
# blob upload (monolithic and chunked), HEAD, cross-repository mount, GET with
# digest verification and Range resume, manifests, clear errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
need_cmd sha256sum skopeo
registry_start
R=$REGISTRY

head -c 5000000 /dev/urandom >"$T/blob"
D=sha256:$(sha256sum "$T/blob" | cut -c1-64)
expect_eq "$(probe ping "$R")" ok "ping"
expect_eq "$(probe blob-put "$R/one/app" "$T/blob")" "sent $D" "first upload"
expect_eq "$(probe blob-put "$R/one/app" "$T/blob")" "existed $D" "second upload"
expect_eq "$(probe blob-put "$R/two" "$T/blob" one/app)" "mounted $D" "mount"
grep -q "mount=$D" "$T/registry/log" || fail "registry log shows no mount"
# chunked: 1 MiB chunks, 5 PATCH requests
before=$(grep -c '"PATCH /v2/three' "$T/registry/log" || true)
expect_eq "$(probe --chunk 1m blob-put "$R/three" "$T/blob")" "sent $D" "chunked upload"
after=$(grep -c '"PATCH /v2/three' "$T/registry/log")
expect_eq "$((after - before))" 5 "PATCH requests"

probe blob-get "$R/three" "$D" "$T/got"
cmp "$T/blob" "$T/got" || fail "downloaded blob differs"
# resume: a partial file is completed with a Range request
head -c 1234567 "$T/blob" >"$T/part"
probe blob-get "$R/three" "$D" "$T/part"
cmp "$T/blob" "$T/part" || fail "resumed blob differs"
# ...which asked for the rest only: the registry answered 206 with the missing bytes
registry_log_has "\"GET /v2/three/blobs/$D HTTP/[0-9.]+\" 206 $((5000000 - 1234567)) " ||
	fail "the resume was not a Range request for the rest: $(grep 'GET /v2/three/blobs' "$T/registry/log")"
# a wrong digest is caught while streaming
bad=sha256:$(printf x | sha256sum | cut -c1-64)
expect_fail 1 "blob '$bad'" probe blob-get "$R/three" "$bad" "$T/none"
# a blob whose content does not match: corrupt the stored copy
data=$T/registry/storage/docker/registry/v2/blobs/sha256/$(echo "$D" | cut -c8-9)/$(echo "$D" | cut -c8-)/data
printf 'garbage' | dd of="$data" bs=1 seek=100 conv=notrunc 2>/dev/null
expect_fail 1 "digest mismatch" probe blob-get "$R/three" "$D" "$T/corrupt"

# manifests: push a config + manifest, read it back with skopeo and with the probe
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}' >"$T/config"
C=sha256:$(sha256sum "$T/config" | cut -c1-64)
probe blob-put "$R/one/app" "$T/config" >/dev/null
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[]}' \
	"$C" "$(stat -c %s "$T/config")" >"$T/manifest"
M=sha256:$(sha256sum "$T/manifest" | cut -c1-64)
expect_eq "$(probe manifest-put "$R/one/app:v1" "$T/manifest" application/vnd.oci.image.manifest.v1+json)" "$M" "manifest digest"
expect_eq "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/one/app:v1")" "$M" "skopeo sees the manifest"
probe manifest-get "$R/one/app:v1" >"$T/m2" 2>"$T/m2.err"
cmp "$T/manifest" "$T/m2" || fail "manifest differs"
expect_contains "$(cat "$T/m2.err")" "application/vnd.oci.image.manifest.v1+json $M"
probe manifest-get "$R/one/app@$M" >/dev/null 2>&1 || fail "manifest by digest"

# errors name the registry, the repository and the HTTP status
expect_fail 1 "registry '$R': repository 'nope': GET manifest 'latest': HTTP 404: MANIFEST_UNKNOWN" \
	probe manifest-get "$R/nope"
expect_fail 1 "invalid reference 'Bad/Name': repository name must be lowercase" probe manifest-get Bad/Name
# nothing listening: a connection error after the retries, naming the registry
registry_stop
expect_fail 1 "registry '$R': ping /v2/" probe ping "$R"
