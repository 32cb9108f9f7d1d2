#!/bin/sh
# kiln build --cache-to / --cache-from, rootless: stores that share only a cache
# directory (type=local, an OCI layout) or a registry (type=registry, Debian's
# docker-registry). A fresh store importing the cache runs no RUN (each RUN
# prints a marker and writes a random value into the image) and makes the same
# image ID; one changed file reruns only the steps after it; mode=min exports
# only the final image's stages, mode=max every stage; two builds writing the
# same cache both hit afterwards. A hostile cache (a blob that is not its
# digest, a record naming another layer's blob, a registry that lost a blob) is a
# miss, never a wrong layer. The registry has htpasswd auth.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd skopeo jq docker-registry

kbs_fail() {
	store "$1"
	shift
	kb_fail "$@"
}
# every RUN and COPY step of $T/log is CACHED
all_cached() {
	awk '/^#[0-9]+ \[.*\] (RUN|COPY|ADD) / { id[$1] = $0 }
	     /^#[0-9]+ CACHED$/ { delete id[$1] }
	     END { for (i in id) { print "not cached: " id[i]; bad = 1 } exit bad }' "$T/log" ||
		fail "$1: not every step was cached: $(cat "$T/log")"
}
# ran WHAT: the RUN printing MARK-WHAT ran (its output is in the progress)
ran() { grep -Eq "^#[0-9]+ MARK-$1\$" "$T/log"; }
no_marker() {
	! ran '[A-Z]*' || fail "$1: a RUN step ran: $(grep -E '^#[0-9]+ MARK-' "$T/log")"
}
image_id() { tail -n 1 "$T/out"; }
config_of() { # config_of DIR: the cache config document of the layout DIR
	m=$(jq -r '.manifests[0].digest' "$1/index.json" | cut -d: -f2)
	c=$(jq -r '.config.digest' "$1/blobs/sha256/$m" | cut -d: -f2)
	cat "$1/blobs/sha256/$c"
}

app=$(ctx app)
cat >"$app/Dockerfile" <<'EOF'
FROM busybox:1 AS mid
RUN echo MARK-MID && cat /proc/sys/kernel/random/uuid >/mid
FROM busybox:1
ENV APP=1
COPY f /f
RUN echo MARK-ONE && cat /proc/sys/kernel/random/uuid >/one
COPY g /g
RUN echo MARK-TWO && cat /proc/sys/kernel/random/uuid >/two
COPY --from=mid /mid /mid
EOF
echo f >"$app/f"
echo g >"$app/g"

# ---- type=local: store A exports (min and max at once), fresh stores import ----
kbs A -t app:1 --cache-to "type=local,dest=$T/dmin" --cache-to "type=local,dest=$T/dmax,mode=max" "$app"
idA=$(image_id)
grep -q "^# exporting cache to type=local,dest=$T/dmax,mode=max: 7 entries\$" "$T/log" ||
	fail "no export message: $(cat "$T/log")"
for d in dmin dmax; do
	expect_eq "$(jq -r .imageLayoutVersion "$T/$d/oci-layout")" 1.0.0 "$d oci-layout"
	expect_eq "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$T/$d/index.json")" \
		latest "$d tag"
	skopeo inspect --raw "oci:$T/$d:latest" | jq -e '.config.mediaType == "application/vnd.kiln.cache.config.v1+json"' \
		>/dev/null || fail "$d: not a kiln cache manifest"
done
nmin=$(config_of "$T/dmin" | jq '.records["linux/amd64"] | length')
nmax=$(config_of "$T/dmax" | jq '.records["linux/amd64"] | length')
expect_eq "$nmin" 6 "entries with mode=min (ENV, 2 COPY, 2 RUN, COPY --from)"
expect_eq "$nmax" 7 "entries with mode=max (and the mid stage's RUN)"
# the config is canonical JSON: sorted keys, compact
config_of "$T/dmax" >"$T/cfg.json"
jq -cS . "$T/cfg.json" | tr -d '\n' | cmp -s - "$T/cfg.json" || fail "cache config is not canonical JSON"

# mode=max: a fresh store runs nothing and makes the same image
kbs B --cache-from "type=local,src=$T/dmax" -t app:1 "$app"
all_cached "from dmax"
no_marker "from dmax"
expect_eq "$(image_id)" "$idA" "image ID from the shared cache"
grep -q "^# importing cache from type=local,src=$T/dmax: 7 entries\$" "$T/log" ||
	fail "no import message: $(cat "$T/log")"
# the json progress says the same: every RUN and COPY step ends "cached"
kbs B2 --progress=json --cache-from "type=local,src=$T/dmax" "$app"
expect_eq "$(jq -s '[.[] | select(.event == "step" and .state != "running" and
	(.text | test("^(RUN|COPY) "))) | .state] | unique' -c "$T/log")" '["cached"]' "json step states"
expect_eq "$(image_id)" "$idA" "image ID from the shared cache (json progress)"
# mode=min: the mid stage runs again (and so the COPY --from it), the rest is cached
kbs C --cache-from "type=local,src=$T/dmin" "$app"
ran MID || fail "mode=min exported the mid stage: $(cat "$T/log")"
! ran ONE && ! ran TWO || fail "from dmin: a final stage RUN ran: $(cat "$T/log")"

# ---- a copy of the context elsewhere, with other mtimes and one changed file ----
mkdir -p "$T/c/app2"
cp "$app/Dockerfile" "$app/f" "$T/c/app2/"
echo changed >"$T/c/app2/g"
touch -d '2001-01-01' "$T/c/app2/f"
kbs D --cache-from "type=local,src=$T/dmax" "$T/c/app2"
! ran MID && ! ran ONE || fail "steps before the change ran: $(cat "$T/log")"
ran TWO || fail "the RUN after the changed file did not run: $(cat "$T/log")"

# ---- merge: a second image exported to the same directory; both hit afterwards ----
other=$(ctx other)
cat >"$other/Dockerfile" <<'EOF'
FROM busybox:1
RUN echo MARK-OTHER && cat /proc/sys/kernel/random/uuid >/other
EOF
kbs A2 --cache-to "type=local,dest=$T/dmax,mode=max" "$other"
idO=$(image_id)
expect_eq "$(config_of "$T/dmax" | jq '.records["linux/amd64"] | length')" 8 "entries after the merge"
expect_eq "$(jq '.manifests | length' "$T/dmax/index.json")" 1 "index entries after the merge"
# the replaced manifest and config are gone: the layers, one config, one manifest
m=$(jq -r '.manifests[0].digest' "$T/dmax/index.json" | cut -d: -f2)
expect_eq "$(ls "$T/dmax/blobs/sha256" | wc -l)" "$(($(jq '.layers | length' "$T/dmax/blobs/sha256/$m") + 2))" \
	"blobs in the merged cache"
kbs E --cache-from "type=local,src=$T/dmax" "$other"
no_marker "merged: other"
expect_eq "$(image_id)" "$idO" "merged: other's image ID"
kbs E --cache-from "type=local,src=$T/dmax" "$app"
no_marker "merged: app"
expect_eq "$(image_id)" "$idA" "merged: app's image ID"

# two runners exporting to one directory at the same time: both sets survive (the lock)
third=$(ctx third)
printf 'FROM busybox:1\nRUN echo MARK-THIRD && cat /proc/sys/kernel/random/uuid >/third\n' >"$third/Dockerfile"
own_ctx
store P1
store P2
(KILN_ROOT=$T/P1 && as_runner "$KILN" build -q --cache-to "type=local,dest=$T/dpar" "$third") >"$T/p1" 2>&1 &
p1=$!
(KILN_ROOT=$T/P2 && as_runner "$KILN" build -q --cache-to "type=local,dest=$T/dpar" "$other") >"$T/p2" 2>&1 ||
	fail "parallel export 2: $(cat "$T/p2")"
wait $p1 || fail "parallel export 1: $(cat "$T/p1")"
kbs P3 --cache-from "type=local,src=$T/dpar" "$third"
no_marker "parallel writers: third"
kbs P3 --cache-from "type=local,src=$T/dpar" "$other"
no_marker "parallel writers: other"

# a layout holding an image under the tag is not overwritten
skopeo copy -q "oci:$T/A:app:1" "oci:$T/imgdir:latest"
chown -R "$KILN_TEST_USER": "$T/imgdir" 2>/dev/null || true
cp "$T/imgdir/index.json" "$T/imgdir.index"
kbs_fail A --cache-to "type=local,dest=$T/imgdir" "$app"
grep -q "not a kiln cache.*refusing to replace it" "$T/log" || fail "an image was replaced: $(cat "$T/log")"
cmp -s "$T/imgdir/index.json" "$T/imgdir.index" || fail "the image layout's index.json changed"

# ---- hostile caches: never a wrong layer ----
# the blob of MARK-ONE's layer (the 2nd RUN... of the final stage: layer 3 of app:1)
KILN_ROOT=$T/A
one=$(skopeo inspect --raw "oci:$T/A:app:1" | jq -r '.layers[-4].digest' | cut -d: -f2)
[ -f "$T/dmin/blobs/sha256/$one" ] || fail "layer $one is not in the cache"
# 1. a blob whose bytes are not its digest: a miss, the step runs, nothing bad is stored
cp -a "$T/dmin" "$T/bad1"
cp "$T/dmin/blobs/sha256/$(skopeo inspect --raw "oci:$T/A:app:1" | jq -r '.layers[-5].digest' | cut -d: -f2)" \
	"$T/bad1/blobs/sha256/$one"
chown -R "$KILN_TEST_USER": "$T/bad1" 2>/dev/null || true
kbs F --cache-from "type=local,src=$T/bad1" "$app"
ran ONE || fail "a corrupt cache blob was used: $(cat "$T/log")"
grep -q "warning: --cache-from type=local,src=$T/bad1: step sha256:.*running the step" "$T/log" ||
	fail "no warning about the corrupt blob: $(cat "$T/log")"
# 2. a record pointing a step at another layer's blob (a valid blob, the wrong diffID)
cp -a "$T/dmin" "$T/bad2"
m=$(jq -r '.manifests[0].digest' "$T/bad2/index.json" | cut -d: -f2)
c=$(jq -r '.config.digest' "$T/bad2/blobs/sha256/$m" | cut -d: -f2)
prev=$(skopeo inspect --raw "oci:$T/A:app:1" | jq -r '.layers[-5]')
jq -cS --argjson p "$prev" --arg one "sha256:$one" \
	'.records["linux/amd64"] |= with_entries(if .value.layer.digest == $one
		then .value.layer.digest = $p.digest | .value.layer.size = $p.size else . end)' \
	"$T/bad2/blobs/sha256/$c" | tr -d '\n' >"$T/cfg2"
c2=$(sha256sum "$T/cfg2" | cut -d' ' -f1)
cp "$T/cfg2" "$T/bad2/blobs/sha256/$c2"
jq -cS --arg d "sha256:$c2" --argjson s "$(stat -c %s "$T/cfg2")" '.config.digest = $d | .config.size = $s' \
	"$T/bad2/blobs/sha256/$m" | tr -d '\n' >"$T/man2"
m2=$(sha256sum "$T/man2" | cut -d' ' -f1)
cp "$T/man2" "$T/bad2/blobs/sha256/$m2"
jq -cS --arg d "sha256:$m2" --argjson s "$(stat -c %s "$T/man2")" '.manifests[0].digest = $d | .manifests[0].size = $s' \
	"$T/bad2/index.json" >"$T/idx2" && mv "$T/idx2" "$T/bad2/index.json"
chown -R "$KILN_TEST_USER": "$T/bad2" 2>/dev/null || true
kbs G --cache-from "type=local,src=$T/bad2" -t app:1 "$app"
ran ONE || fail "a record naming the wrong layer was used: $(cat "$T/log")"
# every layer of the image is what its diffID says
skopeo inspect --raw "oci:$T/G:app:1" | jq -r '.layers[].digest' | cut -d: -f2 >"$T/layers"
skopeo inspect --config --raw "oci:$T/G:app:1" | jq -r '.rootfs.diff_ids[]' | cut -d: -f2 >"$T/diffids"
i=0
while read -r l; do
	i=$((i + 1))
	want=$(sed -n "${i}p" "$T/diffids")
	got=$(gzip -dc "$T/G/blobs/sha256/$l" | sha256sum | cut -d' ' -f1)
	expect_eq "$got" "$want" "diffID of layer $i"
done <"$T/layers"

# 3. a record giving a gzip layer the zstd media type (the image would say the wrong thing)
cp -a "$T/dmin" "$T/bad3"
m=$(jq -r '.manifests[0].digest' "$T/bad3/index.json" | cut -d: -f2)
c=$(jq -r '.config.digest' "$T/bad3/blobs/sha256/$m" | cut -d: -f2)
jq -cS --arg one "sha256:$one" '.records["linux/amd64"] |= with_entries(if .value.layer.digest == $one
		then .value.layer.mediaType = "application/vnd.oci.image.layer.v1.tar+zstd" else . end)' \
	"$T/bad3/blobs/sha256/$c" | tr -d '\n' >"$T/cfg3"
c3=$(sha256sum "$T/cfg3" | cut -d' ' -f1)
cp "$T/cfg3" "$T/bad3/blobs/sha256/$c3"
jq -cS --arg d "sha256:$c3" --argjson s "$(stat -c %s "$T/cfg3")" '.config.digest = $d | .config.size = $s' \
	"$T/bad3/blobs/sha256/$m" | tr -d '\n' >"$T/man3"
m3=$(sha256sum "$T/man3" | cut -d' ' -f1)
cp "$T/man3" "$T/bad3/blobs/sha256/$m3"
jq -cS --arg d "sha256:$m3" --argjson s "$(stat -c %s "$T/man3")" '.manifests[0].digest = $d | .manifests[0].size = $s' \
	"$T/bad3/index.json" >"$T/idx3" && mv "$T/idx3" "$T/bad3/index.json"
chown -R "$KILN_TEST_USER": "$T/bad3" 2>/dev/null || true
kbs L --cache-from "type=local,src=$T/bad3" -t app:1 "$app"
ran ONE || fail "a record with the wrong media type was used: $(cat "$T/log")"
skopeo inspect --raw "oci:$T/L:app:1" | jq -e '[.layers[].mediaType] | all(. == "application/vnd.oci.image.layer.v1.tar+gzip")' \
	>/dev/null || fail "the image names a layer with the wrong media type"

# ---- bad values: clear errors naming the key ----
export KILN_ROOT=$T/A
for v in "type=local:type=local needs dest=DIR" \
	"type=local,dest=x,bogus=1:unknown key 'bogus'" \
	"type=local,dest=x,mode=mid:mode: expected min or max, got 'mid'" \
	"type=gha,url=x:type=gha is not supported" \
	"type=s4,ref=x:type: expected registry, local or inline, got 's4'" \
	"type=registry:type=registry needs ref=" \
	"type=local,dest=x,ignore-error=maybe:ignore-error: expected true or false"; do
	expect_fail 2 "${v#*:}" as_runner "$KILN" build --cache-to "${v%%:*}" "$app"
done
expect_fail 2 "--cache-from: unknown key 'mode'" as_runner "$KILN" build --cache-from "type=local,src=x,mode=max" "$app"

# ---- type=registry ----
# with htpasswd auth: the credentials reach the cache as the push and pulls
REGISTRY_EXTRA_CONFIG=$(registry_htpasswd alice 's3cret-Pw')
registry_start
R=$REGISTRY
CR="--creds alice:s3cret-Pw"
kbs A $CR -t app:1 --cache-to "type=registry,ref=$R/cache:app,mode=max" "$app"
skopeo inspect --raw --tls-verify=false --creds alice:s3cret-Pw "docker://$R/cache:app" >"$T/rman"
# 6 layers, 5 blobs: COPY --from=mid /mid makes the same tar as the RUN that wrote it
jq -e '.mediaType == "application/vnd.oci.image.manifest.v1+json" and
	.config.mediaType == "application/vnd.kiln.cache.config.v1+json" and (.layers | length) == 5' \
	"$T/rman" >/dev/null || fail "registry cache manifest: $(cat "$T/rman")"
# a second export of the same cache uploads no blob
puts0=$(grep -c '"PUT /v2/cache/blobs/' "$T/registry/log" || true)
kbs A $CR -t app:1 --cache-to "type=registry,ref=$R/cache:app,mode=max" "$app"
expect_eq "$(grep -c '"PUT /v2/cache/blobs/' "$T/registry/log" || true)" "$puts0" "blob uploads on a re-export"
# without credentials: the export fails naming the registry, the import is a miss
kbs_fail A --cache-to "type=registry,ref=$R/cache:app" "$app"
grep -q "registry '$R': authentication required" "$T/log" || fail "no auth error: $(cat "$T/log")"
kbs N --cache-from "$R/cache:app" "$other"
ran OTHER || fail "an unauthorised cache was used"
grep -q "warning: --cache-from $R/cache:app: .*authentication required" "$T/log" ||
	fail "no warning for an unreadable cache: $(cat "$T/log")"
grep -q 's3cret' "$T/registry/log" && fail "password in the registry log"
# the short form (a bare REF) is type=registry; one manifest GET
gets0=$(grep -c '"GET /v2/cache/manifests/' "$T/registry/log" || true)
kbs H $CR --cache-from "$R/cache:app" "$app"
all_cached "from the registry"
no_marker "from the registry"
expect_eq "$(image_id)" "$idA" "image ID from the registry cache"
expect_eq "$(grep -c '"GET /v2/cache/manifests/' "$T/registry/log")" "$((gets0 + 1))" "manifest GETs for --cache-from"
# merge on write: the other image into the same ref; a fresh store hits both
kbs A2 $CR --cache-to "type=registry,ref=$R/cache:app" "$other"
kbs I $CR --cache-from "type=registry,ref=$R/cache:app" "$other"
no_marker "registry merged: other"
kbs I $CR --cache-from "type=registry,ref=$R/cache:app" "$app"
no_marker "registry merged: app"
expect_eq "$(image_id)" "$idA" "registry merged: app's image ID"
# a registry that lost a blob: that step runs, the others are cached
rm "$T/registry/storage/docker/registry/v2/blobs/sha256/$(echo "$one" | cut -c1-2)/$one/data"
kbs K $CR --cache-from "type=registry,ref=$R/cache:app" -t app:1 "$app"
ran ONE || fail "a step whose blob the registry lost did not run: $(cat "$T/log")"
! ran MID && ! ran TWO || fail "the registry lost one blob, other steps ran: $(cat "$T/log")"
# a tag holding an image is not overwritten; ignore-error=true makes failures warnings
skopeo copy -q --dest-tls-verify=false --dest-creds alice:s3cret-Pw "oci:$T/A:app:1" "docker://$R/cache:image"
kbs_fail A $CR --cache-to "type=registry,ref=$R/cache:image" "$app"
grep -q "not a kiln cache" "$T/log" || fail "an image tag was taken for a cache: $(cat "$T/log")"
kbs A --cache-to "type=registry,ref=127.0.0.1:1/nothing:here,ignore-error=true" "$app"
grep -q "warning: --cache-to type=registry,ref=127.0.0.1:1/nothing:here,ignore-error=true:" "$T/log" ||
	fail "no warning for an ignored export error: $(cat "$T/log")"
# an unreachable --cache-from is a warning and a normal build
kbs J --cache-from "127.0.0.1:1/nothing:here" "$other"
ran OTHER || fail "unreachable cache: the step did not run"
echo "ok"
