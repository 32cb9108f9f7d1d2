#!/bin/sh
# The command line itself: help, version, exit statuses, one-line errors.
. "$(dirname "$0")/lib.sh"

out=$(kiln --version)
expect_contains "$out" "kiln "
expect_eq "$(kiln version)" "$out" "kiln version"

help=$(kiln --help)
expect_contains "$help" "usage: kiln"
# every command listed in --help must have its own help and accept --help
for c in $(printf '%s\n' "$help" | sed -n '/^Commands:/,/^$/p' | awk 'NF>1 {print $1}'); do
	kiln help "$c" | grep -q "usage: kiln $c" || fail "'kiln help $c' has no usage line"
	kiln "$c" --help | grep -q "usage: kiln $c" || fail "'kiln $c --help' has no usage line"
done

expect_fail 2 "kiln: error: unknown command 'frobnicate'" kiln frobnicate
expect_fail 2 "unknown option '--bogus'" kiln --bogus version
expect_fail 2 "--log-level: expected error, warn, info or debug, got 'loud'" kiln --log-level loud version
expect_fail 2 "help: unknown command 'nope'" kiln help nope
# an error is printed exactly once, on one line
[ "$(wc -l <"$T/.err")" = 1 ] || fail "error took more than one line: $(cat "$T/.err")"
expect_fail 2 "usage: kiln" kiln
# the same as the unprivileged user
as_builder "$KILN" --version >/dev/null || fail "kiln does not run as the test user"
