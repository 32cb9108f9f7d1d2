#!/bin/sh
# Regression tests for the build bugs the conformance corpora found
# (tests/t060[1-3]-conformance-*.sh); one section per fix.
. "$(dirname "$0")/lib.sh"
need_cmd umoci skopeo

export KILN_ROOT="$T/store"
as_builder "$KILN" import "$(busybox_rootfs_tar)" busybox >/dev/null

# build DIR [ARGS...]: build $T/DIR (its Dockerfile) as builder, tag DIR:1
build() {
	d=$1
	shift
	chmod -R a+rX "$T/$d"
	as_builder env KILN_ROOT="$KILN_ROOT" "$KILN" build --progress=plain -t "$d:1" "$@" "$T/$d" \
		>"$T/$d.id" 2>"$T/$d.log"
}

# unpack DIR: the rootfs of DIR:1 in $T/DIR.rootfs
unpack() {
	umoci unpack --image "$KILN_ROOT:$1:1" "$T/$1.bundle" >/dev/null
	echo "$T/$1.bundle/rootfs"
}

# -- RUN --mount=type=cache: the cache directory lives in the store, whatever the
#    current directory is, and survives from one build to the next
mkdir "$T/cachew" "$T/cacher"
printf 'FROM busybox\nRUN --mount=type=cache,target=/c echo kept >/c/f\n' >"$T/cachew/Dockerfile"
printf 'FROM busybox\nRUN --mount=type=cache,target=/c cat /c/f >/out\n' >"$T/cacher/Dockerfile"
build cachew || fail "cache mount build failed: $(cat "$T/cachew.log")"
build cacher || fail "cache mount read failed: $(cat "$T/cacher.log")"
expect_eq "$(cat "$(unpack cacher)/out")" kept "file read from the cache mount"
[ ! -e "$T/${KILN_ROOT#/}" ] || fail "the cache directory was made below the current directory"

# -- COPY --from takes no variables, as BuildKit (convert.go toCommand: expanded
#    with no variables set, an error if that changes it): $X, "${X}" and ${X:-y}
#    fail at the line, in `kiln check` too; a quoted literal name is fine. A '$'
#    in RUN --mount=from= (but last) is BuildKit's parser error as well.
mkdir "$T/fromarg" "$T/fromlit" "$T/mountarg"
cat >"$T/fromarg/Dockerfile" <<'DF'
FROM busybox AS one
RUN echo one >/v
FROM busybox
ARG WHICH="one"
COPY --from="${WHICH}" /v /first
DF
printf 'FROM busybox AS one\nRUN echo one >/v\nFROM busybox\nCOPY --from="one" /v /first\n' \
	>"$T/fromlit/Dockerfile"
printf 'FROM busybox AS one\nFROM busybox\nARG W=one\nRUN --mount=from=$W,target=/m true\n' \
	>"$T/mountarg/Dockerfile"
msg='variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround'
! build fromarg || fail "COPY --from=\"\${WHICH}\" built; BuildKit refuses it"
grep -qF "Dockerfile:5:6: $msg" "$T/fromarg.log" ||
	fail "COPY --from=\"\${WHICH}\": not BuildKit's error at line 5: $(cat "$T/fromarg.log")"
! as_builder "$KILN" check "$T/fromarg" >"$T/fromarg.check" 2>&1 ||
	fail "kiln check passed COPY --from=\"\${WHICH}\""
grep -qF "Dockerfile:5:6: error: $msg" "$T/fromarg.check" ||
	fail "kiln check: not BuildKit's error: $(cat "$T/fromarg.check")"
build fromlit || fail "COPY --from=\"one\" failed: $(cat "$T/fromlit.log")"
expect_eq "$(cat "$(unpack fromlit)/first")" one "COPY --from=\"one\""
! build mountarg || fail "RUN --mount=from=\$W built; BuildKit refuses it"
grep -qF "Dockerfile:4:5: --mount: 'from' doesn't support variable expansion" \
	"$T/mountarg.log" || fail "RUN --mount=from=\$W: not the error at line 4: $(cat "$T/mountarg.log")"

# -- .dockerignore: a directory excluded by a pattern exists for COPY only when a
#    "!" rule actually brings something in it back (a rule that could, but
#    matches nothing, does not make it appear)
mkdir -p "$T/ignnone/d" "$T/ignsome/d"
for c in ignnone ignsome; do
	echo x >"$T/$c/d/file1"
	printf 'FROM scratch\nCOPY d /d\n' >"$T/$c/Dockerfile"
done
echo y >"$T/ignsome/d/file"
printf '**\n!d/file\n' >"$T/ignnone/.dockerignore"
cp "$T/ignnone/.dockerignore" "$T/ignsome/.dockerignore"
build ignnone && fail "COPY of an excluded directory with nothing brought back built"
grep -q "excluded by .dockerignore" "$T/ignnone.log" || fail "no reason given: $(cat "$T/ignnone.log")"
build ignsome || fail "COPY of an excluded directory with d/file brought back: $(cat "$T/ignsome.log")"
r=$(unpack ignsome)
expect_eq "$(cd "$r/d" && ls)" file "the directory holds only what the ! rule brought back"

# -- COPY sources: "**" is "*" (one component, never '/'), as in BuildKit's
#    filepath.Match; a wildcard that matches nothing copies nothing
mkdir -p "$T/globstar/a/b/c"
echo x >"$T/globstar/a/x.txt"
echo w >"$T/globstar/a/b/w.txt"
echo y >"$T/globstar/a/b/c/y.txt"
echo z >"$T/globstar/z.txt"
cat >"$T/globstar/Dockerfile" <<'DF'
FROM scratch
COPY a/**/*.txt /all/
COPY **/**/c/*.txt /deep/
COPY a/*/*.txt /one/
COPY none/**/*.txt /none/
DF
build globstar || fail "COPY with ** failed: $(cat "$T/globstar.log")"
r=$(unpack globstar)
expect_eq "$(cd "$r/all" && ls | tr '\n' ' ')" "w.txt " "a/**/*.txt"
expect_eq "$(cd "$r/deep" && ls | tr '\n' ' ')" "y.txt " "**/**/c/*.txt"
expect_eq "$(cd "$r/one" && ls | tr '\n' ' ')" "w.txt " "a/*/*.txt"
[ ! -e "$r/none" ] || fail "COPY none/**/*.txt /none/ made /none"

# -- a COPY --from source that is missing is reported in the stage or image it
#    was looked for in, not in "the build context"
mkdir "$T/fromgone"
printf 'FROM busybox AS b\nFROM scratch\nCOPY --from=b /nope /\nCOPY --from=busybox /nope2 /\n' \
	>"$T/fromgone/Dockerfile"
build fromgone && fail "COPY --from of a missing file built"
grep -q "source '/nope': no such file or directory in stage 'b'" "$T/fromgone.log" ||
	fail "the stage is not named: $(tail -1 "$T/fromgone.log")"
sed -i 3d "$T/fromgone/Dockerfile"
build fromgone && fail "COPY --from of a missing file built"
grep -q "source '/nope2': no such file or directory in image 'busybox'" "$T/fromgone.log" ||
	fail "the image is not named: $(tail -1 "$T/fromgone.log")"

# -- a rebuild that takes every step from the cache is the same image: cached steps
#    (with a layer or config-only) keep the time they were built at; --no-cache
#    builds anew; with --source-date-epoch every time is the epoch
mkdir "$T/rebuild"
printf 'FROM busybox\nENV A=1\nRUN echo x >/x\nLABEL l=1\nWORKDIR /w\n' >"$T/rebuild/Dockerfile"
build rebuild || fail "build: $(cat "$T/rebuild.log")"
first=$(cat "$T/rebuild.id")
sleep 1.1 # config times have one-second resolution
build rebuild || fail "rebuild: $(cat "$T/rebuild.log")"
expect_eq "$(cat "$T/rebuild.id")" "$first" "image ID of a rebuild from the cache"
build rebuild --no-cache || fail "--no-cache: $(cat "$T/rebuild.log")"
[ "$(cat "$T/rebuild.id")" != "$first" ] || fail "--no-cache gave the cached image"
build rebuild --source-date-epoch 0 || fail "--source-date-epoch: $(cat "$T/rebuild.log")"
cfg=$(skopeo inspect --config "oci:$KILN_ROOT:rebuild:1")
expect_eq "$(echo "$cfg" | jq -r .created)" 1970-01-01T00:00:00Z "created with the epoch"
expect_eq "$(echo "$cfg" | jq -r '[.history[-4:][].created] | unique | join(" ")')" \
	1970-01-01T00:00:00Z "history times of the steps with the epoch"

# -- an escaped wildcard in a COPY source is a literal character ("n\?pe" names
#    only "n?pe"), as in BuildKit; an unescaped one still matches both
mkdir -p "$T/escglob/nope" "$T/escglob/n?pe"
echo wrong >"$T/escglob/nope/f"
echo right >"$T/escglob/n?pe/f"
printf 'FROM scratch\nCOPY n\\?pe/f /x\nCOPY n?pe/f /both/\n' >"$T/escglob/Dockerfile"
build escglob || fail "COPY n\\?pe/f: $(cat "$T/escglob.log")"
r=$(unpack escglob)
expect_eq "$(cat "$r/x")" right "COPY n\\?pe/f"
expect_eq "$(cat "$r/both/f")" wrong "COPY n?pe/f /both/ (both match; nope/f, last in name order, wins)"
