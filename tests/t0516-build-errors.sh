#!/bin/sh
# A step that fails at build time names its Dockerfile line as BuildKit does:
# "FILE:LINE", then the lines around it with ">>>" on the failing instruction's.
# Each build exits 1 and tags nothing. Registry errors name a Docker Hub image
# in full ("nonexistent" is docker.io/library/nonexistent).
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
build_setup
c=$(ctx errors)
echo hi >"$c/hello"

# fails NAME [ARGS...]: the build of $c exits 1, leaves no image NAME, no work in tmp/
fails() {
	n=$1
	shift
	kb_fail -t "$n" "$@" "$c"
	expect_fail 1 "image '$n' not found" as_runner "$KILN" inspect "$n"
	[ -z "$(ls -A "$KILN_ROOT/tmp")" ] || fail "$n: tmp/ keeps $(ls -A "$KILN_ROOT/tmp")"
}
# the error block: the lines from "FILE:LINE" to the closing rule
block() { sed -n "\|^$c/Dockerfile:[0-9]*\$|,\$p" "$T/log"; }
# no packet leaves the machine: the proxy refuses every connection
offline() { as_runner env https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 "$@"; }

say "a failing RUN: BuildKit's message and the line"
printf '%s\n' 'FROM busybox:1' 'COPY hello /hello' 'RUN echo one' 'RUN false' 'ENV after=1' \
	'CMD ["sh"]' >"$c/Dockerfile"
fails run:1
grep -qx "kiln: error: step 4/6 'RUN false': process \"/bin/sh -c false\" did not complete successfully: exit code: 1" "$T/log" ||
	fail "the RUN's error: $(cat "$T/log")"
printf '%s\n' "$c/Dockerfile:4" -------------------- \
	"     2 |     COPY hello /hello" \
	"     3 |     RUN echo one" \
	"     4 | >>> RUN false" \
	"     5 |     ENV after=1" \
	"     6 |     CMD [\"sh\"]" \
	-------------------- >"$T/want"
block >"$T/got"
diff -u "$T/want" "$T/got" || fail "the RUN's excerpt differs (above)"

say "a RUN over several lines: every one of them is marked"
printf 'FROM busybox:1\nRUN echo a && \\\n    exit 7\nENV x=1\n' >"$c/Dockerfile"
fails multi:1
grep -qF 'process "/bin/sh -c echo a &&     exit 7" did not complete successfully: exit code: 7' "$T/log" ||
	fail "multi-line RUN: $(cat "$T/log")"
printf '%s\n' "$c/Dockerfile:2" -------------------- "     1 |     FROM busybox:1" \
	"     2 | >>> RUN echo a && \\" "     3 | >>>     exit 7" "     4 |     ENV x=1" \
	-------------------- >"$T/want"
block >"$T/got"
diff -u "$T/want" "$T/got" || fail "the multi-line RUN's excerpt differs (above)"

say "exec form: the command as written"
printf 'FROM busybox:1\nRUN ["sh", "-c", "exit 3"]\n' >"$c/Dockerfile"
fails exec:1
grep -qF 'process "sh -c exit 3" did not complete successfully: exit code: 3' "$T/log" ||
	fail "exec-form RUN: $(cat "$T/log")"
grep -qxF '     2 | >>> RUN ["sh", "-c", "exit 3"]' "$T/log" || fail "exec form excerpt: $(cat "$T/log")"

say "a COPY source missing from the context"
printf 'FROM busybox:1\nENV a=1\nCOPY nothere /x\n' >"$c/Dockerfile"
fails copy:1
grep -q "^kiln: error: step 3/3 'COPY nothere /x': source 'nothere': no such file or directory in the build context$" "$T/log" ||
	fail "missing COPY source: $(cat "$T/log")"
grep -qx "$c/Dockerfile:3" "$T/log" && grep -qxF '     3 | >>> COPY nothere /x' "$T/log" ||
	fail "missing COPY source, excerpt: $(cat "$T/log")"

say "COPY --from a stage that does not exist"
printf 'FROM busybox:1\nCOPY --from=3 /a /x\n' >"$c/Dockerfile"
fails from-stage:1
grep -qF "COPY --from=3: there is no stage 3 before this one" "$T/log" &&
	grep -qx "$c/Dockerfile:2" "$T/log" && grep -qxF '     2 | >>> COPY --from=3 /a /x' "$T/log" ||
	fail "COPY --from a missing stage: $(cat "$T/log")"

say "COPY --from an image the store lacks"
printf 'FROM busybox:1\nRUN true\nCOPY --from=nosuch:1 /a /x\n' >"$c/Dockerfile"
fails from-image:1 --pull=never
grep -qF "COPY --from=nosuch:1: image 'nosuch:1' is not in the store" "$T/log" &&
	grep -qx "$c/Dockerfile:3" "$T/log" && grep -qxF '     3 | >>> COPY --from=nosuch:1 /a /x' "$T/log" ||
	fail "COPY --from a missing image: $(cat "$T/log")"

say "FROM a Docker Hub image that cannot be pulled: named in full"
printf 'FROM nonexistent\nRUN true\n' >"$c/Dockerfile"
own_ctx
expect_fail 1 "kiln: error: FROM nonexistent: pull 'docker.io/library/nonexistent:latest': registry 'docker.io': " \
	offline "$KILN" build --progress=plain -t hub:1 "$c"
! grep -q "repository ''" "$T/.err" || fail "an empty repository is named: $(cat "$T/.err")"
grep -qx "$c/Dockerfile:1" "$T/.err" && grep -qxF '     1 | >>> FROM nonexistent' "$T/.err" ||
	fail "FROM nonexistent, excerpt: $(cat "$T/.err")"
expect_fail 1 "kiln: error: pull 'docker.io/library/nonexistent:latest': registry 'docker.io': ping /v2/: " \
	offline "$KILN" pull nonexistent
expect_fail 1 "kiln: error: push 'busybox:1' to 'docker.io/library/nonexistent:latest': registry 'docker.io': ping /v2/: " \
	offline "$KILN" push busybox:1 nonexistent

say "FROM a registry that is not there"
dead=127.0.0.1:$((20000 + $$ % 20000 + 1))
printf 'ARG v=1\nFROM %s/app:$v\n' "$dead" >"$c/Dockerfile"
fails dead:1
grep -q "^kiln: error: FROM $dead/app:1: pull '$dead/app:1': registry '$dead': ping /v2/: " "$T/log" &&
	grep -qx "$c/Dockerfile:2" "$T/log" && grep -qxF "     2 | >>> FROM $dead/app:\$v" "$T/log" ||
	fail "FROM a dead registry: $(cat "$T/log")"

say "parse errors keep the compiler form"
printf 'FROM busybox:1\nRUNN x\n' >"$c/Dockerfile"
kb_fail "$c"
grep -q "^kiln: error: $c/Dockerfile:2:1: unknown instruction 'RUNN'" "$T/log" || fail "parse error: $(cat "$T/log")"
