#!/bin/sh
# Progress output: plain lines with RUN output prefixed by the step number,
# one JSON object per line, and a live view on a terminal (through script);
# a failing step always shows its last output lines and its exit status.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd jq script
build_setup

c=$(ctx progress)
cat >"$c/Dockerfile" <<'EOF2'
FROM busybox:1
RUN echo first-line && echo second-line >&2
RUN echo done > /x
EOF2
chown -R "$KILN_TEST_USER": "$c"

kb -t p:1 "$c"
grep -qx '#2 first-line' "$T/log" || fail "plain: RUN stdout not prefixed: $(cat "$T/log")"
grep -qx '#2 second-line' "$T/log" || fail "plain: RUN stderr not prefixed: $(cat "$T/log")"
grep -q '^#2 DONE [0-9.]*s$' "$T/log" || fail "plain: no DONE line with a duration"
[ "$(wc -l <"$T/out")" = 1 ] || fail "stdout must carry only the image id: $(cat "$T/out")"

kr build --progress=json --no-cache -t p:2 "$c" >"$T/out" 2>"$T/json" || fail "json build"
jq -e . "$T/json" >/dev/null || fail "json: not one JSON value per line: $(cat "$T/json")"
expect_eq "$(jq -r 'select(.event=="output") | .data' "$T/json" | grep -c 'first-line')" 1 "json output event"
expect_eq "$(jq -r 'select(.event=="step" and .state=="done") | .id' "$T/json" | wc -l)" 3 "json done events"
jq -se '[.[] | select(.event=="step" and .state=="done")] | all(.seconds >= 0)' "$T/json" >/dev/null || fail "json: no seconds"

# a warning from the build is an event of the stream: every line still parses
kr build --progress=json --build-arg UNUSED=1 -t p:2 "$c" >"$T/out" 2>"$T/json" || fail "json build"
python3 -c '
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
warnings = [e["message"] for e in events if e["event"] == "warning"]
assert warnings == ["one or more build args were not consumed: [UNUSED]"], warnings
' "$T/json" || fail "json with a warning: $(cat "$T/json")"
# plain shows it as it always did
kr build --progress=plain --build-arg UNUSED=1 -t p:2 "$c" >"$T/out" 2>"$T/log" || fail "plain build"
grep -qx 'kiln: warning: one or more build args were not consumed: \[UNUSED\]' "$T/log" ||
	fail "plain: no warning line: $(cat "$T/log")"

# a terminal gets the live view (auto picks it); the image id still goes to stdout
as_builder script -qfec "env KILN_ROOT=$KILN_ROOT $KILN build --no-cache -t p:3 $c" "$T/tty" >/dev/null 2>&1 ||
	fail "tty build failed: $(cat "$T/tty")"
grep -q '\[+\] Building' "$T/tty" || fail "tty: no live view header: $(cat "$T/tty")"
grep -q "$(printf '\033\\[1A')" "$T/tty" || fail "tty: the view is not redrawn in place"
grep -q '=> \[2/3\] RUN echo first-line' "$T/tty" || fail "tty: step line missing"
grep -q 'sha256:' "$T/tty" || fail "tty: no image id"
# ...and a warning above the view, not torn by it
as_builder script -qfec "env KILN_ROOT=$KILN_ROOT $KILN build --build-arg UNUSED=1 -t p:3 $c" "$T/tty" \
	>/dev/null 2>&1 || fail "tty build failed: $(cat "$T/tty")"
tr '\r' '\n' <"$T/tty" | sed 's/\x1b\[[0-9]*[AK]//g' |
	grep -qx 'kiln: warning: one or more build args were not consumed: \[UNUSED\]' ||
	fail "tty: the warning is not a line of its own: $(cat -v "$T/tty")"

# failures: the step, its last output lines and its exit status, in every mode
cat >"$c/Dockerfile" <<'EOF2'
FROM busybox:1
RUN for i in 1 2 3 4 5; do echo "out $i"; done; echo "about to fail" >&2; exit 3
EOF2
expect_fail 1 "exit code 3" kr build --progress=plain "$c"
grep -qx '#2 about to fail' "$T/.err" || fail "plain: failing output missing: $(cat "$T/.err")"
grep -q '^#2 ERROR: exit code 3$' "$T/.err" || fail "plain: no ERROR line"
grep -q "^kiln: error: step 2/2 'RUN for i in" "$T/.err" || fail "the error does not name the step"
set +e
as_builder script -qfec "env KILN_ROOT=$KILN_ROOT $KILN build $c" "$T/tty2" >/dev/null 2>&1
st=$?
set -e
[ $st != 0 ] || fail "tty: a failing build exited 0"
grep -q 'about to fail' "$T/tty2" || fail "tty: the failing step's output is not shown: $(cat "$T/tty2")"
grep -q 'exit code: 3' "$T/tty2" || fail "tty: no exit status shown"
