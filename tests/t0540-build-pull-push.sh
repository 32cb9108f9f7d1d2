#!/bin/sh
# kiln build with a registry, rootless, against Debian's docker-registry: a FROM,
# COPY --from and RUN --mount=from image missing from an empty store is pulled
# (--pull=missing); --pull=never fails clearly; --pull=always sees a moved tag
# and rebuilds from FROM on; stages are never pulled; --push sends every -t
# name, skopeo and podman read the result, and the base layers are mounted from
# a repository they were pulled from rather than uploaded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
need_cmd skopeo podman runc jq
registry_start
R=$REGISTRY
rootfs=$(busybox_rootfs_tar)

# kiln as the unprivileged user, on its own store
kb() { as_builder env KILN_ROOT="$T/store" "$KILN" "$@"; }
mkctx() { # mkctx DIR: a build context with the Dockerfile read from stdin
	mkdir -p "$T/$1"
	cat >"$T/$1/Dockerfile"
	chown -R "$KILN_TEST_USER": "$T/$1" 2>/dev/null || true
}
gets() { grep -c "\"GET /v2/$1/manifests/" "$T/registry/log" || true; }

# the base goes into the registry with skopeo, from a store kiln never builds in
KILN_ROOT=$T/seed kiln import "$rootfs" busybox:1 >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$T/seed:busybox:1" "docker://$R/busybox:1"
base1=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/busybox:1")
printf 'tools image\n' >"$T/marker"
mkctx tools <<EOF
FROM busybox:1
COPY marker /marker
EOF
cp "$T/marker" "$T/tools/"
KILN_ROOT=$T/seed kiln build -q -t tools:1 "$T/tools" >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$T/seed:tools:1" "docker://$R/tools:1"

# ---- --pull=never: a missing base is a clear error, nothing is fetched ----
[ ! -e "$T/store" ] || fail "the store exists before the first build"
mkctx app <<EOF
FROM $R/busybox:1
RUN cat /proc/sys/kernel/random/uuid >/run-id && echo built >/built
CMD ["cat", "/built"]
EOF
n0=$(gets busybox)
expect_fail 1 "kiln: error: FROM $R/busybox:1: image '$R/busybox:1' is not in the store and --pull=never forbids pulling it (pull it first with 'kiln pull $R/busybox:1')" \
	kb build --pull=never "$T/app"
expect_eq "$(gets busybox)" "$n0" "manifest GETs with --pull=never"
expect_fail 2 "--pull: expected missing, always or never, got 'sometimes'" kb build --pull=sometimes "$T/app"

# ---- --pull=missing (the default): an empty store pulls the base ----
kb images | tail -n +2 | grep -q . && fail "the store is not empty: $(kb images)"
kb build --progress=plain -t app:1 "$T/app" >"$T/id1" 2>"$T/log1" || fail "build: $(cat "$T/log1")"
grep -q "^# pulling $R/busybox:1\$" "$T/log1" || fail "no pull in the progress: $(cat "$T/log1")"
grep -q "^# pulled $R/busybox:1: $base1\$" "$T/log1" || fail "pulled digest not shown: $(cat "$T/log1")"
kb images --format "{{.Repository}}:{{.Tag}} " | grep -q "^$R/busybox:1 " || fail "the pulled base is not named in the store: $(kb images)"
grep -q "GET /v2/busybox/blobs/" "$T/registry/log" || fail "no blob was fetched"
# a second build finds the base in the store: no registry request, all cached
n0=$(grep -c . "$T/registry/log")
kb build --progress=plain -t app:1 "$T/app" >/dev/null 2>"$T/log2" || fail "rebuild: $(cat "$T/log2")"
expect_eq "$(grep -c . "$T/registry/log")" "$n0" "registry requests for a stored base"
grep -q '^#2 CACHED' "$T/log2" || fail "RUN not cached on rebuild: $(cat "$T/log2")"
# podman runs what was built FROM the pulled base
as_builder podman --runtime runc run --rm --network none "oci:$T/store:app:1" >"$T/out" 2>"$T/perr" ||
	fail "podman run: $(tail -3 "$T/perr")"
expect_eq "$(cat "$T/out")" built "podman output"

# ---- COPY --from and RUN --mount=from an image pull it; stages are never pulled ----
mkctx multi <<EOF
FROM $R/busybox:1 AS tools
RUN echo stage >/stage
FROM tools
COPY --from=$R/tools:1 /marker /copied
COPY --from=tools /stage /from-stage
RUN --mount=from=$R/tools:1,target=/t cp /t/marker /mounted
EOF
nt=$(gets tools)
kb build --pull=always --progress=plain -t multi:1 "$T/multi" >/dev/null 2>"$T/log3" ||
	fail "multi-stage build: $(cat "$T/log3")"
expect_eq "$(gets tools)" "$((nt + 1))" "tools pulled once for COPY --from and RUN --mount"
grep -q "pulling $R/tools:1" "$T/log3" || fail "COPY --from image not pulled: $(cat "$T/log3")"
grep -q "pulling tools" "$T/log3" && fail "a stage was pulled: $(cat "$T/log3")"
grep -q "GET /v2/library/tools\|GET /v2/tools/manifests/latest" "$T/registry/log" && fail "stage name looked up in a registry"
out=$(as_builder podman --runtime runc run --rm --network none "oci:$T/store:multi:1" \
	cat /copied /from-stage /mounted 2>"$T/perr") || fail "podman run multi: $(tail -3 "$T/perr")"
expect_eq "$out" "tools image
stage
tools image" "files from the pulled image and the stage"

# independent stages (built in parallel) on the same image: one pull
mkctx par <<EOF
FROM $R/busybox:1 AS a
RUN echo a >/a
FROM $R/busybox:1 AS b
RUN echo b >/b
FROM $R/tools:1
COPY --from=a /a /a
COPY --from=b /b /b
EOF
nb=$(gets busybox) nt=$(gets tools)
kb build --pull=always --jobs 2 --progress=plain -t par:1 "$T/par" >/dev/null 2>"$T/logp" ||
	fail "parallel stages: $(cat "$T/logp")"
expect_eq "$(gets busybox)" "$((nb + 1))" "busybox pulled once for two parallel stages"
expect_eq "$(gets tools)" "$((nt + 1))" "tools pulled once"

# ---- --pull=always: an unchanged tag keeps the cache; a moved one rebuilds from FROM ----
kb build --pull=always --progress=plain -t app:1 "$T/app" >"$T/id3" 2>"$T/log4" ||
	fail "--pull=always: $(cat "$T/log4")"
grep -q "^# pulled $R/busybox:1: $base1\$" "$T/log4" || fail "--pull=always did not ask the registry: $(cat "$T/log4")"
grep -q '^#2 CACHED' "$T/log4" || fail "unchanged base: RUN not cached: $(cat "$T/log4")"
run1=$(skopeo inspect --raw "oci:$T/store:app:1" | jq -r '.layers[1].digest')
# the tag moves: a new base (one more file) replaces busybox:1 in the registry
mkctx base2 <<EOF
FROM busybox:1
RUN echo 2 >/base-version
EOF
KILN_ROOT=$T/seed kiln build -q -t busybox:2 "$T/base2" >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$T/seed:busybox:2" "docker://$R/busybox:1"
base2=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/busybox:1")
[ "$base2" != "$base1" ] || fail "the tag did not move"
# missing (the default) keeps using the stored base
kb build --progress=plain -t app:1 "$T/app" >/dev/null 2>"$T/log5" || fail "build: $(cat "$T/log5")"
grep -q "pulling" "$T/log5" && fail "--pull=missing pulled a stored base: $(cat "$T/log5")"
kb build --pull=always --progress=plain -t app:2 "$T/app" >"$T/id4" 2>"$T/log6" ||
	fail "--pull=always after the tag moved: $(cat "$T/log6")"
grep -q "^# pulled $R/busybox:1: $base2\$" "$T/log6" || fail "new base not pulled: $(cat "$T/log6")"
grep -q '^#2 DONE' "$T/log6" || fail "RUN did not run again: $(cat "$T/log6")"
grep -q 'CACHED' "$T/log6" && fail "a step was cached on a new base: $(cat "$T/log6")"
[ "$(cat "$T/id4")" != "$(cat "$T/id1")" ] || fail "same image on a new base"
expect_eq "$(skopeo inspect --raw "oci:$T/store:app:2" | jq '.layers | length')" 3 "layers on the new base"
[ "$(skopeo inspect --raw "oci:$T/store:app:2" | jq -r '.layers[2].digest')" != "$run1" ] ||
	fail "the RUN layer is the old one"
out=$(as_builder podman --runtime runc run --rm --network none "oci:$T/store:app:2" cat /base-version 2>"$T/perr") ||
	fail "podman run app:2: $(tail -3 "$T/perr")"
expect_eq "$out" 2 "the new base is used"

# ---- --push: every -t name, digests on stdout, mounts from the base's repository ----
kb build --pull=always --push --progress=plain -t "$R/app:1" -t "$R/app:latest" "$T/app" \
	>"$T/push.out" 2>"$T/push.log" || fail "build --push: $(cat "$T/push.log")"
d=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/app:1")
expect_eq "$(sed -n 2p "$T/push.out")" "$R/app:1@$d" "pushed reference on stdout"
expect_eq "$(sed -n 3p "$T/push.out")" "$R/app:latest@$d" "second tag on stdout"
expect_eq "$(sed -n 1p "$T/push.out" | cut -c1-7)" "sha256:" "image ID first"
grep -q "^# pushed $R/app:1@$d\$" "$T/push.log" || fail "push not reported: $(cat "$T/push.log")"
expect_eq "$(skopeo inspect --tls-verify=false --config "docker://$R/app:1" | jq -c .config.Cmd)" '["cat","/built"]' "pushed Cmd"
# the base layers came from busybox (and tools): mounted, never uploaded
for l in $(skopeo inspect --tls-verify=false --raw "docker://$R/busybox:1" | jq -r '.layers[].digest'); do
	grep -q "POST /v2/app/blobs/uploads/?mount=$l&from=[a-z]* " "$T/registry/log" ||
		fail "base layer $l not mounted: $(grep -o '"[A-Z]* /v2/app/blobs/uploads/[^ ]*' "$T/registry/log")"
	grep -q "PUT /v2/app/blobs/uploads/[^ ]*digest=$l" "$T/registry/log" && fail "base layer $l uploaded"
done
grep -q "^# blob sha256:[0-9a-f]*: mounted" "$T/push.log" || fail "no mount in the progress: $(cat "$T/push.log")"
# podman pulls and runs it from the registry, rootless
as_builder podman --runtime runc pull -q --tls-verify=false "$R/app:1" >/dev/null 2>"$T/pp.err" ||
	fail "podman pull: $(cat "$T/pp.err")"
out=$(as_builder podman --runtime runc run --rm --network none "$R/app:1" 2>"$T/perr") ||
	fail "podman run: $(tail -3 "$T/perr")"
expect_eq "$out" built "podman run of the pushed image"

# ---- push errors: usage first, a failed push names the registry, exit 1 ----
expect_fail 2 "--push: name the image to push with -t REGISTRY/REPOSITORY[:TAG]" kb build --push "$T/app"
dead=127.0.0.1:$((REGISTRY_PORT + 2))
expect_fail 1 "--push: push '$dead/app:1': registry '$dead'" kb build -q --push -t "$dead/app:1" "$T/app"
# json progress carries the push as message events
kb build --push --progress=json -t "$R/app:json" "$T/app" >/dev/null 2>"$T/push.json" ||
	fail "build --push json: $(cat "$T/push.json")"
jq -e "select(.event == \"message\" and (.message | startswith(\"pushed $R/app:json@sha256:\")))" \
	"$T/push.json" >/dev/null || fail "no pushed message event: $(cat "$T/push.json")"
