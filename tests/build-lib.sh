# Helpers for the `kiln build` end-to-end tests (sourced after lib.sh).
# A per-test store with the busybox base imported as busybox:1; builds run as
# the unprivileged `builder` user unless KILN_AS_ROOT=1.

export KILN_ROOT="$T/store"

build_setup() {
	tar=$(busybox_rootfs_tar)
	kb import "$tar" busybox:1 >/dev/null
}

# kb ARGS...: kiln as the test user (or root), against $KILN_ROOT
kb() {
	if [ "${KILN_AS_ROOT:-0}" = 1 ]; then
		"$KILN" "$@"
	else
		as_builder env KILN_ROOT="$KILN_ROOT" "$KILN" "$@"
	fi
}

# ctx NAME: make a context directory $T/NAME owned by the test user; prints its path
ctx() {
	mkdir -p "$T/$1"
	chown -R "$KILN_TEST_USER": "$T/$1" 2>/dev/null || true
	echo "$T/$1"
}

# build_plain CONTEXT ARGS...: build with plain progress into $T/log, the id into $T/id
build_plain() {
	c=$1
	shift
	kb build --progress=plain "$@" "$c" >"$T/id" 2>"$T/log"
}

# steps_cached: the texts of the steps reported CACHED in $T/log, one per line
steps_cached() {
	awk '/^#[0-9]+ \[/ {id=$1; sub(/^#[0-9]+ \[[^]]*\] /, ""); text[id]=$0}
	     /^#[0-9]+ CACHED$/ {print text[$1]}' "$T/log"
}

# steps_run: the texts of the steps that ran (DONE, not CACHED), one per line
steps_run() {
	awk '/^#[0-9]+ \[/ {id=$1; sub(/^#[0-9]+ \[[^]]*\] /, ""); text[id]=$0}
	     /^#[0-9]+ DONE/ {print text[$1]}' "$T/log"
}
