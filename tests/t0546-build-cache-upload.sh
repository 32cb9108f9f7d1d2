#!/bin/sh
# kiln build --cache-to type=registry uploads a step's blob while the build goes
# on: a later RUN (with --network=host) sees the blob of an earlier step in the
# registry before the build ends, and the export afterwards sends it no second
# time. With mode=min, a stage the image is not built FROM is not uploaded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd skopeo jq docker-registry

registry_start
R=$REGISTRY
port=${R##*:}
build_setup

app=$(ctx app)
cat >"$app/Dockerfile" <<EOF2
FROM busybox:1 AS side
RUN echo MARK-SIDE && head -c 70000 /dev/urandom >/side
FROM busybox:1
RUN echo MARK-ONE && head -c 90000 /dev/urandom >/one
RUN for i in \$(seq 150); do \\
	wget -q -O- http://127.0.0.1:$port/v2/early/tags/list >/dev/null 2>&1; \\
	wget -q -O- http://127.0.0.1:$port/v2/_catalog | grep -q '"early"' && \\
	{ echo SAW-UPLOAD; exit 0; }; sleep 0.2; done; echo NO-UPLOAD
EOF2
kb --network=host -t app:1 --cache-to "type=registry,ref=$R/early:c" "$app"
grep -q '^#[0-9]* SAW-UPLOAD$' "$T/log" || fail "no blob reached the registry before the last RUN ended: $(cat "$T/log")"
# the first RUN's blob went up once, during the build: the export did not even ask
# for it again (one HEAD, before its upload)
one=$(skopeo inspect --raw "oci:$KILN_ROOT:app:1" | jq -r '.layers[1].digest')
expect_eq "$(grep -c "\"PUT /v2/early/blobs/uploads/[^ ]*digest=$one " "$T/registry/log")" 1 \
	"uploads of the first RUN's blob"
expect_eq "$(grep -c "\"HEAD /v2/early/blobs/$one " "$T/registry/log")" 1 "HEADs of the first RUN's blob"
# and before the export began (its first request reads the cache manifest)
put=$(grep -n "\"PUT /v2/early/blobs/uploads/[^ ]*digest=$one " "$T/registry/log" | cut -d: -f1)
get=$(grep -n '"GET /v2/early/manifests/c ' "$T/registry/log" | head -n 1 | cut -d: -f1)
[ -n "$get" ] && [ "$put" -lt "$get" ] || fail "the blob went up at the export, not during the build"
skopeo inspect --raw --tls-verify=false "docker://$R/early:c" >"$T/man"
jq -e --arg d "$one" '[.layers[].digest] == [$d]' "$T/man" >/dev/null ||
	fail "the cache manifest's layers are not the first RUN's alone: $(cat "$T/man")"
# mode=min: the side stage (not a base of the image) was not uploaded: the layer and
# the cache config are the only blobs sent
expect_eq "$(grep -c '"PUT /v2/early/blobs/uploads/' "$T/registry/log")" 2 "blob uploads"

# an unreachable registry: the early uploads fail quietly, the export fails as before
# (ignore-error=true: a warning)
kb --network=host --no-cache -t app:2 --cache-to "type=registry,ref=127.0.0.1:1/none:c,ignore-error=true" "$app"
grep -q "warning: --cache-to type=registry,ref=127.0.0.1:1/none:c,ignore-error=true:" "$T/log" ||
	fail "no warning for an unreachable cache registry: $(cat "$T/log")"
echo "ok"
