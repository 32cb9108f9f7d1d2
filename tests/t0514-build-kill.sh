#!/bin/sh
# A kill -9 of kiln during a RUN, rootless and as root: no process of the RUN
# survives, no mount is left (in this namespace or any other), and no lock stops
# the next build, which succeeds.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
need_root

kill_during_run() { # MODE: builder or root
	KILN_BUILD_AS=$1
	export KILN_ROOT="$T/store-$1"
	build_setup
	c=$(ctx "kill-$1")
	# a sleep this test can tell apart from any other: busybox sums its arguments
	marker="60 0.$$$(test "$1" = root && echo 1 || echo 2)"
	cat >"$c/Dockerfile" <<-EOF
	FROM busybox:1
	RUN echo started > /started && exec sleep $marker
	EOF
	own_ctx
	as_runner "$KILN" build --progress=plain -t killed:1 "$c" >"$T/out" 2>"$T/log" &
	bg=$!
	i=0
	until sleep_pid=$(pgrep -f "^sleep $marker\$"); do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "the RUN did not start: $(cat "$T/log")"
		sleep 0.05
	done
	kiln_pid=
	for p in $(pgrep -x kiln); do
		[ "$(readlink "/proc/$p/exe")" = "$(readlink -f "$KILN")" ] &&
			[ "$(readlink "/proc/$p/cwd")" = "$T" ] && kiln_pid=$p
	done
	[ -n "$kiln_pid" ] || fail "no kiln process found for this test"
	kill -9 "$kiln_pid"
	wait "$bg" 2>/dev/null || true

	# the sleep goes away with kiln (PR_SET_PDEATHSIG, pid namespace)
	i=0
	while kill -0 "$sleep_pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "the RUN's sleep (pid $sleep_pid) survived kill -9 of kiln: $(ps -o pid,ppid,user,args -p "$sleep_pid")"
		sleep 0.05
	done
	! pgrep -f "sleep $marker" >/dev/null || fail "a process of the RUN survived: $(pgrep -af "sleep $marker")"
	# no mount of the store anywhere: this namespace and every process's
	! grep -q "$KILN_ROOT" /proc/self/mountinfo || fail "a mount is left: $(grep "$KILN_ROOT" /proc/self/mountinfo)"
	! cat /proc/[0-9]*/mountinfo 2>/dev/null | grep -q "$KILN_ROOT" ||
		fail "a mount is left in some namespace: $(cat /proc/[0-9]*/mountinfo 2>/dev/null | grep "$KILN_ROOT" | sort -u)"
	! cat /proc/[0-9]*/mountinfo 2>/dev/null | grep -q "kiln-$test_name" || fail "a mount under $T is left"

	# nothing was tagged, and the next build is not blocked by a lock
	expect_fail 1 "killed:1" as_runner "$KILN" inspect killed:1
	printf 'FROM busybox:1\nRUN echo after > /after\n' >"$c/Dockerfile"
	kb -t after:1 "$c"
	expect_eq "$(cat "$(unpack after:1)/after")" after "the build after the kill"
	as_runner "$KILN" fsck >"$T/fsck" 2>&1 || fail "fsck after the kill: $(cat "$T/fsck")"
}

kill_during_run builder
kill_during_run root
