#!/bin/sh
# kiln build --cache-to ...,mounts=true, rootless: the RUN --mount=type=cache
# directories a build used travel in the shared cache (a registry with htpasswd
# auth, or an OCI layout directory) as layers of their own, keyed by the mount's
# id, and a fresh store restores them before the step that mounts them runs:
# the contents (a random value), modes, owners and mtimes arrive; a cache
# exported without mounts=true, or a mount of another id, starts empty.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd skopeo jq docker-registry

ran() { grep -Eq "^#[0-9]+ MARK-$1\$" "$T/log"; }
# the one cache mount directory of the store $T/STORE
mountdir() { echo "$T/$1/cache/mounts"/*; }

REGISTRY_EXTRA_CONFIG=$(registry_htpasswd alice 's3cret-Pw')
registry_start
R=$REGISTRY
CR="--creds alice:s3cret-Pw"

# the filler: puts a random value, a private file owned by 1000 and an old mtime into
# the cache mount "dl" (and nothing into the image)
fill=$(ctx fill)
cat >"$fill/Dockerfile" <<'EOF2'
FROM busybox:1
RUN --mount=type=cache,id=dl,target=/var/cache/dl echo MARK-FILL && \
	cat /proc/sys/kernel/random/uuid >/var/cache/dl/data && \
	mkdir -p /var/cache/dl/sub && echo secret >/var/cache/dl/sub/f && \
	chown 1000:1000 /var/cache/dl/sub/f && chmod 600 /var/cache/dl/sub/f && \
	touch -d '2020-02-02 02:02:02' /var/cache/dl/sub/f
EOF2
# the reader: another step (another key), which records what the cache holds
read=$(ctx read)
cat >"$read/Dockerfile" <<'EOF2'
FROM busybox:1
ARG ID=dl
RUN --mount=type=cache,id=$ID,target=/var/cache/dl echo MARK-READ && \
	cat /var/cache/dl/data >/got 2>/dev/null; \
	stat -c '%a %u:%g %Y' /var/cache/dl/sub/f >/meta 2>/dev/null; true
EOF2

# ---- store A fills the cache and exports it, with mounts=true and without ----
kbs A $CR --cache-to "type=registry,ref=$R/cache:m,mounts=true" \
	--cache-to "type=local,dest=$T/dir,mounts=true" --cache-to "type=registry,ref=$R/cache:plain" "$fill"
ran FILL || fail "the filler did not run"
grep -q '^# exporting 1 cache mount(s)$' "$T/log" || fail "no mount export message: $(cat "$T/log")"
want=$(cat "$(mountdir A)/data")
[ -n "$want" ] || fail "store A's cache mount holds no data"
# one more layer than the plain cache: the mount's
raw() { skopeo inspect --raw --tls-verify=false --creds alice:s3cret-Pw "docker://$1"; }
expect_eq "$(raw "$R/cache:m" | jq '.layers | length')" \
	"$(($(raw "$R/cache:plain" | jq '.layers | length') + 1))" "layers with mounts=true"

# ---- a fresh store B restores it from the registry before the RUN ----
kbs B $CR --cache-from "$R/cache:m" -t r:1 "$read"
ran READ || fail "the reader did not run"
grep -q '^# restored RUN --mount=type=cache,id=dl from the imported cache$' "$T/log" ||
	fail "no restore message: $(cat "$T/log")"
root=$(unpack r:1)
expect_eq "$(cat "$root/got")" "$want" "cache mount data restored from the registry"
expect_eq "$(cat "$root/meta")" "600 1000:1000 $(date -d '2020-02-02 02:02:02' +%s)" \
	"mode, owner and mtime of a restored file"
expect_eq "$(cat "$(mountdir B)/sub/f")" secret "restored file in store B's cache"
# restored once: a second build uses B's own directory, even with the source gone
echo more >>"$(mountdir B)/data"
kbs B $CR --cache-from "$R/cache:m" --build-arg X=1 --no-cache -t r:2 "$read"
! grep -q 'restored RUN --mount' "$T/log" || fail "restored over an existing cache mount"
expect_eq "$(cat "$(unpack r:2)/got")" "$(printf '%s\nmore' "$want")" "store B's own cache on the next build"

# ---- type=local round trip ----
kbs C --cache-from "type=local,src=$T/dir" -t r:1 "$read"
expect_eq "$(cat "$(unpack r:1)/got")" "$want" "cache mount data restored from a directory"

# ---- what is not restored: a cache exported without mounts=true, another id ----
kbs D $CR --cache-from "$R/cache:plain" -t r:1 "$read"
ran READ || fail "the reader did not run"
expect_eq "$(cat "$(unpack r:1)/got")" "" "cache mount data without mounts=true"
kbs E $CR --cache-from "$R/cache:m" --build-arg ID=other -t r:1 "$read"
expect_eq "$(cat "$(unpack r:1)/got")" "" "cache mount data of another id"

# ---- a registry that lost the mount's blob: a warning, the step runs on an empty cache ----
m=$(raw "$R/cache:m" | jq -r '.layers[].digest' | cut -d: -f2 >"$T/l-m"
	raw "$R/cache:plain" | jq -r '.layers[].digest' | cut -d: -f2 >"$T/l-p"
	grep -vxFf "$T/l-p" "$T/l-m")
[ -n "$m" ] || fail "no mount layer in the cache"
rm "$T/registry/storage/docker/registry/v2/blobs/sha256/$(echo "$m" | cut -c1-2)/$m/data"
kbs F $CR --cache-from "$R/cache:m" -t r:1 "$read"
ran READ || fail "the reader did not run"
expect_eq "$(cat "$(unpack r:1)/got")" "" "cache mount data with the blob gone"
grep -q "warning: --cache-from $R/cache:m: step sha256:.*running the step" "$T/log" ||
	fail "no warning about the lost blob: $(cat "$T/log")"

expect_fail 2 "type=inline takes no ref, dest, mode=max or mounts=true" \
	as_runner "$KILN" build --cache-to type=inline,mounts=true "$read"
expect_fail 2 "mounts: expected true or false" \
	as_runner "$KILN" build --cache-to "type=local,dest=$T/x,mounts=yes" "$read"
echo "ok"
