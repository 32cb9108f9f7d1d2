#!/bin/sh
# kiln build --build-context NAME=VALUE, as docker buildx: a directory (its own
# .dockerignore applied, files root's as from the main context, its content in
# the cache keys), docker-image://REF and oci-layout://DIR[:TAG|@DIGEST] (made
# by kiln save and by skopeo), used in FROM, COPY --from and RUN --mount
# from=; a named context replaces a stage of its name; bad values are usage
# errors naming the flag. Rootless.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"

build_setup
ki() { as_runner "$KILN" "$@"; }

# step_state TEXT: CACHED or DONE, for the step whose header holds TEXT
step_state() {
	id=$(grep -F -- "$1" "$T/log" | grep '^#[0-9]* \[' | head -n1 | cut -d' ' -f1)
	[ -n "$id" ] || fail "no step '$1' in: $(cat "$T/log")"
	grep "^$id \(CACHED\|DONE\)" "$T/log" | head -n1 | cut -d' ' -f2
}

say "an image and two layouts of it to name"
o=$(ctx other)
echo other >"$o/m"
printf 'FROM busybox:1\nCOPY m /other-marker\nENV OTHER=1\n' >"$o/Dockerfile"
kb -t other:1 "$o"
L=$T/c/layouts
mkdir -p "$L"
own_ctx
ki save --format oci-layout -o "$L/kiln" other:1
skopeo copy -q "oci:$KILN_ROOT:other:1" "oci:$L/skopeo:v1"
chown -R "$KILN_TEST_USER": "$L" 2>/dev/null || true
mdigest=$(jq -r '.manifests[0].digest' "$L/skopeo/index.json")

say "a directory with its own .dockerignore"
x=$(ctx extra)
mkdir -p "$x/sub"
echo A >"$x/a.txt"
echo B >"$x/sub/b.txt"
echo secret >"$x/ignored.txt"
echo ignored.txt >"$x/.dockerignore"
chmod 0640 "$x/sub/b.txt"

c=$(ctx main)
echo main >"$c/ignored.txt" # the main context ignores nothing
cat >"$c/Dockerfile" <<'DF'
FROM busybox:1 AS base
RUN echo from-stage > /stage-marker
FROM base
COPY ignored.txt /main-ignored
COPY --from=extra / /extra/
COPY --from=img /other-marker /from-img
COPY --from=lay /other-marker /from-layout
COPY --from=sk /other-marker /from-skopeo
RUN --mount=from=extra,target=/m cat /m/a.txt > /mounted && ls -a /m > /mlist
DF
set -- --build-context extra="$x" --build-context img=docker-image://other:1 \
	--build-context lay="oci-layout://$L/kiln:other:1" \
	--build-context sk="oci-layout://$L/skopeo@$mdigest"
kb -t r:1 "$@" "$c"
r=$(unpack r:1)
expect_eq "$(cat "$r/extra/a.txt")" A "COPY --from=DIR: a.txt"
expect_eq "$(cat "$r/extra/sub/b.txt")" B "COPY --from=DIR: sub/b.txt"
expect_eq "$(stat -c '%u:%g %a' "$r/extra/sub/b.txt")" "0:0 640" "a directory's files are root's, modes kept"
[ ! -e "$r/extra/ignored.txt" ] || fail "the directory's .dockerignore was not applied"
expect_eq "$(cat "$r/main-ignored")" main "the directory's .dockerignore is not the main context's"
expect_eq "$(cat "$r/from-img")" other "COPY --from=docker-image://"
expect_eq "$(cat "$r/from-layout")" other "COPY --from=oci-layout:// (kiln save, :TAG)"
expect_eq "$(cat "$r/from-skopeo")" other "COPY --from=oci-layout:// (skopeo, @DIGEST)"
expect_eq "$(cat "$r/mounted")" A "RUN --mount=from=DIR"
expect_eq "$(grep -c ignored "$r/mlist")" 0 "RUN --mount=from=DIR applies its .dockerignore"
expect_eq "$(cat "$r/stage-marker")" from-stage "the stage of the main Dockerfile"
[ -z "$(ki images -q --filter dangling=true)" ] || fail "a layout left an unnamed image listed"

say "a rebuild is cached; a change of the directory's content is not"
kb -t r:1 "$@" "$c"
expect_eq "$(step_state 'COPY --from=extra')" CACHED "no-op rebuild: COPY --from=extra"
expect_eq "$(step_state 'RUN --mount=from=extra')" CACHED "no-op rebuild: RUN --mount"
expect_eq "$(step_state 'COPY --from=sk')" CACHED "no-op rebuild: COPY --from=sk"
touch -d 2001-01-01 "$x/a.txt"
kb -t r:1 "$@" "$c"
expect_eq "$(step_state 'COPY --from=extra')" CACHED "mtime-only change: COPY --from=extra"
echo A2 >"$x/a.txt"
kb -t r:1 "$@" "$c"
expect_eq "$(step_state 'COPY --from=extra')" DONE "content change: COPY --from=extra"
expect_eq "$(step_state 'RUN --mount=from=extra')" DONE "content change: RUN --mount from=extra"
r=$(unpack r:1)
expect_eq "$(cat "$r/extra/a.txt")" A2 "the new content"
expect_eq "$(cat "$r/mounted")" A2 "the new content, mounted"
echo more >"$x/ignored.txt"
kb -t r:1 "$@" "$c"
expect_eq "$(step_state 'COPY --from=extra')" CACHED "an ignored file's change"

say "FROM a directory, and a named context over a stage of its name"
cat >"$c/Dockerfile.2" <<'DF'
FROM busybox:1 AS base
RUN echo from-stage > /stage-marker
FROM extra AS files
FROM base
COPY --from=files / /files/
DF
kb -t r:2 -f "$c/Dockerfile.2" --build-context extra="$x" --build-context base=docker-image://other:1 "$c"
r=$(unpack r:2)
expect_eq "$(cat "$r/files/a.txt")" A2 "FROM DIR"
[ ! -e "$r/files/ignored.txt" ] || fail "FROM DIR: .dockerignore not applied"
[ ! -e "$r/files/bin" ] || fail "FROM DIR is not scratch plus the directory"
expect_eq "$(cat "$r/other-marker")" other "the named context 'base' replaced the stage"
[ ! -e "$r/stage-marker" ] || fail "the replaced stage's RUN ran"
expect_eq "$(cfg r:2 '.config.Env|map(select(startswith("OTHER")))')" '["OTHER=1"]' "the image context's config"
grep -qF 'stage-marker' "$T/log" && fail "the replaced stage was built: $(cat "$T/log")"
kb -t r:3 -f "$c/Dockerfile.2" --build-context base="oci-layout://$L/skopeo:v1" \
	--build-context extra="$x" "$c"
expect_eq "$(cfg r:3 '.config.Env|map(select(startswith("OTHER")))')" '["OTHER=1"]' "FROM oci-layout:// (a stage replaced)"

say "errors name the flag and what was expected"
expect_fail 2 "--build-context: expected NAME=VALUE, got 'extra'" ki build --build-context extra "$c"
expect_fail 2 "--build-context x: expected a directory, docker-image://REF or oci-layout://DIR, got 'ftp://h/x'" \
	ki build --build-context x=ftp://h/x "$c"
expect_fail 2 "--build-context x: expected docker-image://REF" ki build --build-context x=docker-image:// "$c"
expect_fail 2 "--build-context x: expected oci-layout://DIR@sha256:HEX" \
	ki build --build-context x="oci-layout://$L/kiln@sha256:12" "$c"
expect_fail 2 "--build-context: 'A' is given twice" ki build --build-context a="$x" --build-context A="$x" "$c"
expect_fail 1 "--build-context extra: open directory '$T/nope'" ki build --build-context extra="$T/nope" "$c"
set -- --build-context extra="$x" --build-context img=docker-image://other:1 \
	--build-context lay="oci-layout://$L/kiln:nope" --build-context sk="oci-layout://$L/skopeo"
expect_fail 1 "--build-context lay=oci-layout://$L/kiln: no image 'nope' in '$L/kiln'" ki build "$@" "$c"
set -- --build-context extra="$x" --build-context img=docker-image://nothere:1 --pull=never
expect_fail 1 "--build-context img=docker-image://nothere:1" ki build "$@" "$c"
say "ok"
