# Helpers for the RUN sandbox's end-to-end tests (the t03NN family), sourced
# after tests/lib.sh. They drive sandbox/tests/sandbox-probe (the sandbox without
# the builder around it) and sandbox/tests/escape-helper (a hostile step's tools)
# on a real busybox rootfs; nothing is mocked.
#   $PROBE, $HELPER     the two programs; a test fails when they are not built and
#                       skips without busybox-static
#   tree DIR            the entries below $T/DIR, sorted, on one line
#   listing DIR         type, mode, owner, size and link target of each entry below
#                       $T/DIR, and whiteouts' device numbers: to compare two trees
#   rand                16 random hex digits, for canaries and secrets
PROBE=$KILN_BUILD/sandbox/tests/sandbox-probe
HELPER=$KILN_BUILD/sandbox/tests/escape-helper
[ -x "$PROBE" ] || fail "sandbox-probe is not built ($PROBE)"
[ -x "$HELPER" ] || fail "escape-helper is not built ($HELPER)"
[ -x /bin/busybox ] || skip "busybox-static is not installed"

tree() { (cd "$T/$1" && find . -mindepth 1 | sort | tr '\n' ' '); }

listing() {
	(cd "$T/$1" && find . -mindepth 1 ! -type d -printf '%p %y %m %U:%G %s %l\n' &&
		find . -mindepth 1 -type d -printf '%p %y %m %U:%G\n' &&
		find . -type c -exec stat -c '%n %t:%T' {} +) | sort
}

rand() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }
