#!/bin/sh
# RUN --security=insecure (BuildKit's syntax) is what a Dockerfile alone may
# not ask for: refused, naming the line, unless the build was started with
# --allow security.insecure (as docker buildx build --allow). With it the step
# keeps every capability and has no seccomp filter. --security=sandbox is the
# default and always accepted. Rootless and as root.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
need_root

c=$(ctx insecure)
cat >"$c/Dockerfile" <<'EOF'
FROM busybox:1
RUN --security=insecure grep -E '^(CapEff|CapBnd|Seccomp):' /proc/self/status > /status.txt
EOF
cat >"$c/Sandbox.dockerfile" <<'EOF'
FROM busybox:1
RUN --security=sandbox echo sandboxed > /sandboxed.txt
EOF

for who in builder root; do
	KILN_BUILD_AS=$who
	KILN_ROOT=$T/store-$who
	build_setup
	say "$who: refused without --allow security.insecure"
	before=$(store_state)
	kb_fail --no-cache -t ins:1 "$c"
	expect_contains "$(cat "$T/log")" "Dockerfile:2" "$who: the error names the line"
	expect_contains "$(cat "$T/log")" "--allow security.insecure" "$who: the error names the fix"
	expect_eq "$(store_state)" "$before" "$who: nothing tagged, the store as it was"

	say "$who: --allow security.insecure runs it with every capability, no seccomp"
	kb --no-cache -t ins:1 --allow security.insecure "$c"
	r=$(unpack ins:1)
	bnd=$(awk '$1 == "CapBnd:" { print $2 }' "$r/status.txt")
	eff=$(awk '$1 == "CapEff:" { print $2 }' "$r/status.txt")
	[ -n "$bnd" ] || fail "$who: no CapBnd in $(cat "$r/status.txt")"
	expect_eq "$eff" "$bnd" "$who: every capability of the bounding set is effective"
	expect_contains "$(cat "$r/status.txt")" "Seccomp:	0" "$who: no seccomp filter"

	say "$who: --security=sandbox needs nothing"
	kb --no-cache -t sb:1 -f "$c/Sandbox.dockerfile" "$c"
	expect_eq "$(cat "$(unpack sb:1)/sandboxed.txt")" sandboxed "$who: --security=sandbox"
done

say "--allow takes only what it knows"
set +e
"$KILN" build --allow security.everything "$c" >"$T/out" 2>"$T/log"
rc=$?
set -e
expect_eq "$rc" 2 "--allow with an unknown entitlement: usage error"
expect_contains "$(cat "$T/log")" "expected security.insecure or network.host" "--allow: the message"
say "ok"
