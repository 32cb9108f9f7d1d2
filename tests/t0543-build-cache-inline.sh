#!/bin/sh
# kiln build --cache-to type=inline and --cache-from IMAGE, rootless, against
# Debian's docker-registry (htpasswd auth): the pushed image's manifest carries
# its step keys in the dev.kiln.cache.v1 annotation (its config, so its image
# ID, is unchanged), skopeo copies keep it, and a fresh store at another path,
# with a copy of the context elsewhere, builds with every step cached from that
# image alone (no RUN runs: each writes a random value) and pushes the same
# image ID and manifest digest. One changed file reruns only the steps after it;
# an image without an inline cache is a warning and a normal build.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd skopeo jq docker-registry

# kbs STORE ARGS...: kiln build in the store $T/STORE, times fixed by SOURCE_DATE_EPOCH
kbs() {
	store "$1"
	shift
	kb --source-date-epoch 1700000000 "$@"
}
all_cached() {
	awk '/^#[0-9]+ \[.*\] (RUN|COPY|ADD) / { id[$1] = $0 }
	     /^#[0-9]+ CACHED$/ { delete id[$1] }
	     END { for (i in id) { print "not cached: " id[i]; bad = 1 } exit bad }' "$T/log" ||
		fail "$1: not every step was cached: $(cat "$T/log")"
}
ran() { grep -Eq "^#[0-9]+ MARK-$1\$" "$T/log"; }
no_marker() {
	! ran '[A-Z]*' || fail "$1: a RUN step ran: $(grep -E '^#[0-9]+ MARK-' "$T/log")"
}
# the raw manifest and its digest, the config digest (image ID) of a pushed image
raw() { skopeo inspect --raw --tls-verify=false --creds alice:s3cret-Pw "docker://$1"; }
mdigest() { raw "$1" | sha256sum | cut -d' ' -f1; }
image_id_of() { raw "$1" | jq -r .config.digest; }

REGISTRY_EXTRA_CONFIG=$(registry_htpasswd alice 's3cret-Pw')
registry_start
R=$REGISTRY
CR="--creds alice:s3cret-Pw"

app=$(ctx app)
cat >"$app/Dockerfile" <<'EOF2'
FROM busybox:1 AS mid
RUN echo MARK-MID && cat /proc/sys/kernel/random/uuid >/mid
FROM busybox:1
ENV APP=1
COPY f /f
RUN echo MARK-ONE && cat /proc/sys/kernel/random/uuid >/one
COPY g /g
RUN echo MARK-TWO && cat /proc/sys/kernel/random/uuid >/two
COPY --from=mid /mid /mid
EOF2
echo f >"$app/f"
echo g >"$app/g"

# ---- store A builds and pushes with an inline cache ----
kbs A $CR --cache-to type=inline --push -t "$R/app:1" "$app"
grep -q '^# writing the inline cache: 7 entries$' "$T/log" || fail "no inline message: $(cat "$T/log")"
raw "$R/app:1" >"$T/man1"
jq -e '.mediaType == "application/vnd.oci.image.manifest.v1+json"' "$T/man1" >/dev/null ||
	fail "not an OCI manifest: $(cat "$T/man1")"
jq -r '.annotations["dev.kiln.cache.v1"]' "$T/man1" >"$T/inline.json"
# the annotation is the cache config document: one record per step whose layer is in the
# image, or that made none: the final stage's ENV, 2 COPY, 2 RUN, COPY --from, and the
# mid stage's RUN (COPY --from=mid /mid /mid made the same tar as the RUN that wrote it)
expect_eq "$(jq '.schemaVersion' "$T/inline.json")" 1 "inline cache schemaVersion"
expect_eq "$(jq '.records["linux/amd64"] | length' "$T/inline.json")" 7 "inline cache entries"
expect_eq "$(jq '[.records["linux/amd64"][] | select(.layer == null)] | length' "$T/inline.json")" 1 \
	"entries without a layer (ENV)"
jq -r '.records["linux/amd64"][].layer.digest // empty' "$T/inline.json" | sort -u >"$T/named"
jq -r '.layers[].digest' "$T/man1" | sort -u >"$T/layers"
expect_eq "$(comm -23 "$T/named" "$T/layers" | wc -l)" 0 "inline records naming layers not in the image"
expect_eq "$(wc -l <"$T/named")" 5 "distinct layers named (2 COPY, 2 RUN, COPY --from)"
[ "$(jq -cS . "$T/inline.json")" = "$(cat "$T/inline.json")" ] || fail "inline cache is not canonical JSON"
idA=$(image_id_of "$R/app:1")
# the config is untouched: the same build without the inline cache has the same image ID
# and another manifest (no annotation)
kbs A -t plain:1 "$app"
expect_eq "$(tail -n 1 "$T/out")" "$idA" "image ID without --cache-to type=inline"
skopeo inspect --raw "oci:$T/A:plain:1" | jq -e '.annotations["dev.kiln.cache.v1"] == null' >/dev/null ||
	fail "an inline cache without --cache-to type=inline"

# skopeo copies keep it (the manifest is copied as it is)
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false --src-creds alice:s3cret-Pw \
	--dest-creds alice:s3cret-Pw "docker://$R/app:1" "docker://$R/mirror:1"
expect_eq "$(mdigest "$R/mirror:1")" "$(mdigest "$R/app:1")" "manifest digest after skopeo copy"

# ---- a fresh store B, a copy of the context elsewhere with other mtimes ----
mkdir -p "$T/other/place"
cp "$app/Dockerfile" "$app/f" "$app/g" "$T/other/place/"
touch -d '2001-01-01' "$T/other/place/f" "$T/other/place/g"
chown -R "$KILN_TEST_USER": "$T/other" 2>/dev/null || true
kbs B $CR --cache-from "$R/app:1" --cache-to type=inline --push -t "$R/app:2" "$T/other/place"
all_cached "from the image"
no_marker "from the image"
grep -q "^# importing cache from $R/app:1: 7 entries\$" "$T/log" || fail "no import message: $(cat "$T/log")"
expect_eq "$(image_id_of "$R/app:2")" "$idA" "image ID built from the inline cache"
expect_eq "$(mdigest "$R/app:2")" "$(mdigest "$R/app:1")" "manifest digest built from the inline cache"
# the json progress says the same: every RUN and COPY step ends "cached"
kbs B2 $CR --progress=json --cache-from "type=registry,ref=$R/mirror:1" "$app"
expect_eq "$(jq -s '[.[] | select(.event == "step" and .state != "running" and
	(.text | test("^(RUN|COPY) "))) | .state] | unique' -c "$T/log")" '["cached"]' "json step states"
expect_eq "$(tail -n 1 "$T/out")" "$idA" "image ID from the mirror's inline cache"

# one changed file: the steps before it are cached, the RUN after it runs
echo changed >"$T/other/place/g"
kbs C $CR --cache-from "$R/app:1" "$T/other/place"
! ran MID && ! ran ONE || fail "steps before the change ran: $(cat "$T/log")"
ran TWO || fail "the RUN after the changed file did not run: $(cat "$T/log")"

# an image pushed without an inline cache: a warning, and the steps run
kbs A $CR --push -t "$R/noinline:1" "$app"
kbs D $CR --cache-from "$R/noinline:1" "$app"
ran ONE || fail "steps cached from an image without an inline cache"
grep -q "warning: --cache-from $R/noinline:1: an image without an inline cache (no 'dev.kiln.cache.v1' annotation" \
	"$T/log" || fail "no warning for an image without an inline cache: $(cat "$T/log")"
# an inline cache is never a target of --cache-to type=registry (an image tag is kept)
store A
kb_fail $CR --cache-to "type=registry,ref=$R/app:1" "$app"
grep -q "not a kiln cache" "$T/log" || fail "an image tag was taken for a cache: $(cat "$T/log")"
expect_eq "$(mdigest "$R/app:1")" "$(sha256sum <"$T/man1" | cut -d' ' -f1)" "app:1 after a refused export"

# ---- bad values ----
expect_fail 2 "type=inline is only for --cache-to" as_runner "$KILN" build --cache-from type=inline "$app"
expect_fail 2 "type=inline takes no ref, dest, mode=max" \
	as_runner "$KILN" build --cache-to type=inline,mode=max "$app"
expect_fail 2 "type=inline takes no ref" as_runner "$KILN" build --cache-to "type=inline,ref=$R/x" "$app"
echo "ok"
