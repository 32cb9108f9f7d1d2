#!/bin/sh
# kiln parse: BuildKit's dump format byte for byte, and the JSON form.
. "$(dirname "$0")/lib.sh"

need_cmd jq
cd "$T"
conf=$KILN_CONFORMANCE_DIR/buildkit-parser/testfiles
[ -d "$conf" ] || fail "conformance data missing at $conf (set KILN_CONFORMANCE_DIR)"

# every BuildKit parser result, through the real binary
n=0
for d in "$conf"/*/; do
	kiln parse --format=buildkit "$d/Dockerfile" >out || fail "parse $d"
	cmp -s out "$d/result" || fail "$(basename "$d"): dump differs: $(diff out "$d/result" | head -5)"
	n=$((n + 1))
done
expect_eq "$n" 33 "number of BuildKit cases"

# JSON: stable fields the builder and tools rely on
cat >Dockerfile <<'DF'
# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS build
RUN --mount=type=cache,target=/root/.cache \
    --network=none <<EOF sh
echo "$HOME"
EOF
ENV A=1 B="two words"
COPY --from=build --chmod=0755 ["a b", "/dst/"]
ONBUILD RUN make
DF
kiln parse Dockerfile >ast.json
expect_eq "$(jq -r '.syntax' ast.json)" "docker/dockerfile:1"
expect_eq "$(jq -r '.meta_args' ast.json)" 1
expect_eq "$(jq -r '.instructions[2].kind' ast.json)" RUN
expect_eq "$(jq -r '.instructions[2].line, .instructions[2].end_line' ast.json | tr '\n' ' ')" "4 7 "
expect_eq "$(jq -r '.instructions[2].flags[0].name + "=" + .instructions[2].flags[0].value' ast.json)" \
	"mount=type=cache,target=/root/.cache"
expect_eq "$(jq -r '.instructions[2].heredocs[0].body' ast.json)" 'echo "$HOME"'
expect_eq "$(jq -r '.instructions[2].args[0]' ast.json)" "<<EOF sh"
expect_eq "$(jq -r '.instructions[3].kvs[1].value' ast.json)" '"two words"'
expect_eq "$(jq -r '.instructions[4].json' ast.json)" true
expect_eq "$(jq -r '.instructions[4].args[0]' ast.json)" "a b"
expect_eq "$(jq -r '.instructions[5].onbuild.kind' ast.json)" RUN
expect_eq "$(jq -r '.stages[0].name' ast.json)" build

# stdin, and errors
expect_eq "$(printf 'FROM scratch\n' | kiln parse --format=buildkit -)" '(from "scratch")'
printf 'FROM scratch\nCMD ["a", 1]\n' >bad
expect_fail 1 "bad:2:1: CMD: when using JSON array syntax, arrays must be comprised of strings only" \
	kiln parse bad
expect_fail 2 "parse: --format: expected buildkit or json, got 'yaml'" kiln parse --format=yaml bad
expect_fail 2 "parse: expected one FILE" kiln parse
