#!/bin/sh
# kiln check: compiler-style findings, exit statuses, ignore files, stdin.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/ctx"
cd "$T/ctx"

# a clean Dockerfile: exit 0 and a summary
printf 'FROM busybox AS build\nRUN ["true"]\nFROM scratch\nCOPY --from=build /bin/true /\nCMD ["/true"]\n' >Dockerfile
out=$(kiln check)
expect_eq "$out" "./Dockerfile: 5 instructions in 2 stages, 0 warnings" "clean check"
# the same as the unprivileged user, with an explicit context
out=$(as_builder "$KILN" check "$T/ctx")
expect_contains "$out" "5 instructions in 2 stages"

# warnings alone exit 0, each with file:line:col, the line and a caret
printf 'FROM busybox AS Build\nMAINTAINER me\nCMD echo hi\n' >Dockerfile.warn
out=$(kiln check -f Dockerfile.warn .)
expect_contains "$out" "Dockerfile.warn:1:17: warning: stage name 'Build' should be lowercase [StageNameCasing]"
expect_contains "$out" "Dockerfile.warn:3:1: warning: JSON arguments recommended for CMD"
expect_contains "$out" "    1 | FROM busybox AS Build"
expect_contains "$out" "3 instructions in 1 stage, 3 warnings"
# a check=skip directive silences the named rules
printf '# check=skip=StageNameCasing,MaintainerDeprecated\n' | cat - Dockerfile.warn >Dockerfile.skip
out=$(kiln check -f Dockerfile.skip)
expect_contains "$out" "1 warning"

# check=error=true makes warnings fail, like BuildKit
printf '# check=error=true\n' | cat - Dockerfile.warn >Dockerfile.strict
expect_fail 1 "check: 'Dockerfile.strict' has 0 errors and 3 warnings" kiln check -f Dockerfile.strict

# every error is reported, then exit 1
printf 'FROM busybox\nRUNN make\nCOPY --form=x a b\nEXPOSE 80/tpc\n' >Dockerfile.bad
expect_fail 1 "check: 'Dockerfile.bad' has 3 errors and 0 warnings" kiln check -f Dockerfile.bad
grep -qF "Dockerfile.bad:2:1: error: unknown instruction 'RUNN' (did you mean RUN?)" "$T/.out" ||
	fail "no suggestion for RUNN: $(cat "$T/.out")"
grep -qF "Dockerfile.bad:3:6: error: unknown flag '--form' for COPY (did you mean --from?)" "$T/.out" ||
	fail "no suggestion for --form: $(cat "$T/.out")"
grep -qF "Dockerfile.bad:4:8: error: EXPOSE: invalid port '80/tpc'" "$T/.out" ||
	fail "bad port not reported: $(cat "$T/.out")"
# the caret sits under the flag
grep -qF "      |      ^" "$T/.out" || fail "caret not under the flag: $(cat "$T/.out")"

# a syntax error stops the parse: one error on stderr, with the excerpt
printf 'FROM busybox\nRUN <<EOF\necho never closed\n' >Dockerfile.heredoc
expect_fail 1 "Dockerfile.heredoc:2:1: unterminated heredoc 'EOF'" kiln check -f Dockerfile.heredoc
grep -qF "    2 | RUN <<EOF" "$T/.err" || fail "no excerpt: $(cat "$T/.err")"

# stdin
out=$(printf 'FROM scratch\n' | kiln check -f -)
expect_contains "$out" "<stdin>" "stdin name"

# Containerfile when there is no Dockerfile
mkdir "$T/cf" && printf 'FROM scratch\n' >"$T/cf/Containerfile"
expect_contains "$(kiln check "$T/cf")" "Containerfile: 1 instruction in 1 stage"

# the ignore file is checked too; Dockerfile.warn.dockerignore beside -f wins
printf 'ok\n' >.dockerignore
printf '[broken\n' >Dockerfile.warn.dockerignore
expect_fail 1 "Dockerfile.warn.dockerignore:1: bad pattern '[broken'" kiln check -f Dockerfile.warn
kiln check >/dev/null || fail "a good .dockerignore failed"

# usage errors exit 2; a missing file exits 1
expect_fail 2 "check: expected at most one CONTEXT, got 2" kiln check a b
expect_fail 2 "check: unknown option '--bogus'" kiln check --bogus
expect_fail 1 "open 'nope/Dockerfile': No such file or directory" kiln check nope

# the real-world corpus: every official Dockerfile and kaniko Dockerfile checks clean
conf=$KILN_CONFORMANCE_DIR
[ -d "$conf/official-dockerfiles" ] || fail "conformance data missing at $conf (set KILN_CONFORMANCE_DIR)"
n=0
for f in $(grep -v '^#' "$conf/official-dockerfiles/MANIFEST.tsv" | cut -f1); do
	kiln check -f "$conf/official-dockerfiles/$f" "$(dirname "$conf/official-dockerfiles/$f")" \
		>/dev/null 2>"$T/.err" || fail "kiln check $f: $(cat "$T/.err")"
	n=$((n + 1))
done
expect_eq "$n" 86 "official Dockerfiles checked"
n=0
for f in "$conf"/kaniko/dockerfiles/*; do
	case $f in *.dockerignore) continue ;; esac
	kiln check -f "$f" "$conf/kaniko" >/dev/null 2>"$T/.err" || fail "kiln check $f: $(cat "$T/.err")"
	n=$((n + 1))
done
expect_eq "$n" 90 "kaniko Dockerfiles checked"
