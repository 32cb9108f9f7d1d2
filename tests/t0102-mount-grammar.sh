#!/bin/sh
# RUN --mount has one grammar (parser/mount.c): kiln check and kiln build reject the
# same bad mounts with the same message at the same file:line:col, and a value that
# only expansion makes bad is build's to reject, at its line.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/ctx"
cd "$T" # as_builder runs there too: both name ctx/Dockerfile

# bad_mount SPEC MESSAGE: check's finding and build's error are the same line
# (expect_fail uses $want, $pat and $got)
bad_mount() {
	printf 'FROM scratch\nRUN --mount=%s true\n' "$1" >ctx/Dockerfile
	line="ctx/Dockerfile:2:5: $2"
	expect_fail 1 "has 1 error" kiln check ctx
	checked=$(sed -n 's/^\(ctx\/Dockerfile:[0-9:]*\) error: /\1 /p' "$T/.out")
	expect_eq "$checked" "$line" "kiln check of --mount=$1"
	expect_fail 1 "$line" as_builder "$KILN" build -q ctx
	built=$(sed -n 's/^kiln: error: //p' "$T/.err")
	expect_eq "$built" "$checked" "kiln build of --mount=$1 (as kiln check said it)"
}

bad_mount type=volume,target=/v \
	"--mount: unsupported mount type 'volume' (expected bind, cache, tmpfs, secret or ssh)"
bad_mount type=cache,target=/x,bogus=1 "--mount: unexpected key 'bogus'"
bad_mount type=tmpfs,target=/t,from=img "--mount: key 'from' is not valid for type=tmpfs"
bad_mount type=cache,target "--mount: key 'target' needs a value (target=VALUE)"
bad_mount type=cache,target=/c,sharing=maybe \
	"--mount: unsupported sharing value 'maybe' (expected shared, private or locked)"
bad_mount type=cache,target=/c,mode=999 "--mount: invalid value '999' for key 'mode'"
bad_mount type=cache,target=/c,uid=x "--mount: invalid value 'x' for key 'uid'"
bad_mount type=tmpfs,target=/t,size=lots "--mount: invalid value 'lots' for key 'size'"
bad_mount target=/m,rw=yes "--mount: invalid value 'yes' for key 'rw'"

# a value made bad by expansion: check cannot see it, build names the line
printf 'FROM scratch\nARG M=999\nRUN --mount=type=cache,target=/c,mode=$M true\n' >ctx/Dockerfile
out=$(kiln check ctx)
expect_contains "$out" "0 warnings" "kiln check of mode=\$M"
expect_fail 1 "--mount: invalid value '999' for key 'mode'" as_builder "$KILN" build -q ctx
grep -qx "ctx/Dockerfile:3" "$T/.err" || fail "mode=\$M: not located at line 3: $(cat "$T/.err")"
# ...and so does a target only expansion leaves empty
printf 'FROM scratch\nARG D\nRUN --mount=type=cache,target=$D true\n' >ctx/Dockerfile
kiln check ctx >/dev/null
expect_fail 1 "mount target '' must be an absolute path below '/'" as_builder "$KILN" build -q ctx
grep -qx "ctx/Dockerfile:3" "$T/.err" || fail "target=\$D: not located at line 3: $(cat "$T/.err")"
# BuildKit's parser takes a mount without a target (its own Dockerfile has one); build does not
printf 'FROM scratch\nRUN --mount=type=cache true\n' >ctx/Dockerfile
kiln check ctx >/dev/null
expect_fail 1 "--mount: a target is required (target=PATH)" as_builder "$KILN" build -q ctx

# buildah's extensions are the grammar's (buildah's Dockerfiles check), not build's
printf 'FROM scratch\nRUN --mount=type=tmpfs,target=/etc/ssl,tmpcopyup true\n' >ctx/Dockerfile
out=$(kiln check ctx)
expect_contains "$out" "0 warnings" "kiln check of tmpcopyup"
expect_fail 1 "--mount: key 'tmpcopyup' is buildah's extension, which kiln build does not support" \
	as_builder "$KILN" build -q ctx
grep -qx "ctx/Dockerfile:2" "$T/.err" || fail "tmpcopyup: not located at line 2: $(cat "$T/.err")"
[ -z "$(as_builder "$KILN" images -q 2>/dev/null)" ] || fail "a failed build left an image"
