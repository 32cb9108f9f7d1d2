#!/bin/sh
# A bounded build cache, rootless: kiln prune --cache --keep-storage SIZE drops
# the least recently used cache entries first, with the layers and snapshots only
# they kept, until what the cache alone keeps fits; --filter until=DURATION drops
# the entries (and RUN --mount=type=cache directories) unused for longer;
# KILN_CACHE_KEEP_STORAGE applies the budget after each build. Each image's RUN
# writes 1 MiB of random bytes, so an entry's layer and snapshot take ~2 MiB, and a
# dropped step runs again (its marker shows) while a kept one is CACHED.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"

ran() { grep -Eq "^#[0-9]+ MARK-$1\$" "$T/log"; }
cached() { # cached NAME: the image NAME builds with its RUN cached
	kb "$(ctx "$1")"
	! ran "$1" || fail "$1 ran again: $(cat "$T/log")"
}
reran() {
	kb "$(ctx "$1")"
	ran "$1" || fail "$1 was cached: $(cat "$T/log")"
}
for n in A B C; do
	printf 'FROM busybox:1\nRUN echo MARK-%s && head -c 1048576 /dev/urandom >/big\n' "$n" \
		>"$(ctx "$n")/Dockerfile"
done
# the layer blob of image NAME's RUN, left to the cache alone (the name is removed)
layer_of() {
	skopeo inspect --raw "oci:$KILN_ROOT:$1:1" | jq -r '.layers[-1].digest' | cut -d: -f2
}
has_blob() { [ -f "$KILN_ROOT/blobs/sha256/$1" ]; }
prune() { as_runner "$KILN" prune "$@" >"$T/prune" 2>&1 || fail "kiln prune $*: $(cat "$T/prune")"; }

build_setup
for n in A B C; do
	kb -t "img-$(echo $n | tr A-Z a-z):1" "$(ctx "$n")"
	ran "$n" || fail "$n did not run"
	eval "l$n=\$(layer_of img-$(echo $n | tr A-Z a-z))"
	as_runner "$KILN" rmi "img-$(echo $n | tr A-Z a-z):1" >/dev/null
done
has_blob "$lA" && has_blob "$lB" && has_blob "$lC" || fail "a layer is gone before any prune"
# A is used again: B is now the least recently used
cached A
# ---- --keep-storage: the cache holds ~6 MiB; 5m keeps A and C, drops B ----
prune --cache --keep-storage 5m
has_blob "$lB" && fail "B's layer survived: $(cat "$T/prune")"
has_blob "$lA" && has_blob "$lC" || fail "a recently used layer went: $(cat "$T/prune")"
grep -q "^deleted blob sha256:$lB " "$T/prune" || fail "B's blob not reported: $(cat "$T/prune")"
[ -d "$KILN_ROOT/snapshots" ] && ls "$KILN_ROOT/snapshots" | grep -q . || fail "no snapshots left"
kept=$(sed -n 's/^build cache: //p' "$T/prune")
case $kept in *MB | *kB) ;; *) fail "no cache size printed: $(cat "$T/prune")" ;; esac
awk -v k="${kept%% *}" 'BEGIN { exit !(k > 3.5 && k <= 5.3) }' ||
	fail "cache size after --keep-storage 5m: $kept"
cached C
cached A
reran B
# the base image's layer is an image's, not the cache's: it stays however small the budget
prune --cache --keep-storage 0
expect_eq "$(sed -n 's/^build cache: //p' "$T/prune")" "0 B" "cache size after --keep-storage 0"
has_blob "$lA" || has_blob "$lB" || has_blob "$lC" && fail "a cache layer survived --keep-storage 0"
skopeo inspect --raw "oci:$KILN_ROOT:busybox:1" >/dev/null || fail "busybox:1 damaged by the prune"
reran A

# ---- --filter until: entries unused for 2 hours go, the others stay ----
m=$(ctx M)
printf 'FROM busybox:1\nRUN --mount=type=cache,id=big,target=/c echo MARK-M && head -c 65536 /dev/urandom >/c/x\n' \
	>"$m/Dockerfile"
kb "$m"
kb "$(ctx C)"
[ -n "$(ls "$KILN_ROOT/cache/mounts")" ] || fail "no cache mount directory"
find "$KILN_ROOT/cache" -mindepth 1 -maxdepth 2 -exec touch -h -d '3 hours ago' {} +
cached C
prune --cache --filter until=2h
[ -z "$(ls "$KILN_ROOT/cache/mounts")" ] || fail "an old cache mount survived: $(ls "$KILN_ROOT/cache/mounts")"
grep -q "^deleted cache/mounts/" "$T/prune" || fail "the cache mount's removal not reported: $(cat "$T/prune")"
cached C
reran A
# both at once, with the = forms: until= drops B's old entries, the size keeps the rest
prune --cache --keep-storage=1g --filter=until=1h
cached A
cached C

# ---- KILN_CACHE_KEEP_STORAGE: after each build; only the newest image fits in 3m ----
export KILN_ROOT="$T/budget"
build_setup
for n in A B C; do
	as_runner env KILN_CACHE_KEEP_STORAGE=3m "$KILN" build --progress=plain "$(ctx "$n")" \
		>"$T/out" 2>"$T/log" || fail "build $n: $(cat "$T/log")"
done
grep -q "^build cache trimmed to KILN_CACHE_KEEP_STORAGE=3m: freed .*, .* kept\$" "$T/log" ||
	fail "no trim message: $(cat "$T/log")"
cached C
reran A
reran B

# ---- bad values: usage errors naming the option ----
expect_fail 2 "--keep-storage and --filter trim the build cache: give --cache too" \
	as_runner "$KILN" prune --keep-storage 1g
expect_fail 2 "--keep-storage: expected a size such as 10g or 512m, got 'lots'" \
	as_runner "$KILN" prune --cache --keep-storage lots
expect_fail 2 "--filter: expected until=DURATION, got 'label=x'" \
	as_runner "$KILN" prune --cache --filter label=x
expect_fail 2 "--filter until: expected a duration such as 24h or 90m, got 'soon'" \
	as_runner "$KILN" prune --cache --filter until=soon
expect_fail 2 "KILN_CACHE_KEEP_STORAGE: expected a size such as 10g or 512m, got 'huge'" \
	as_runner env KILN_CACHE_KEEP_STORAGE=huge "$KILN" build "$(ctx A)"
echo "ok"
