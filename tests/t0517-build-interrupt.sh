#!/bin/sh
# SIGINT and SIGTERM stop a rootless build cleanly: the RUN's processes die,
# the step's work in tmp/ is removed, nothing is tagged, and kiln exits 130 or
# 143. A kill -9 leaves tmp/ work behind: the next store command sweeps it,
# but not the work of a build still running beside it. import cleans up too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
. "$KILN_SRC/tests/lib-build.sh"
need_root
need_cmd docker-registry curl
build_setup
c=$(ctx interrupt)
tmp=$KILN_ROOT/tmp

# on failure, do not leave what the test started running
marker_base=$((700000 + $$ % 99999))
kill_leftovers() { pkill -KILL -f "^sleep $marker_base" 2>/dev/null || true; }
add_cleanup kill_leftovers

# kiln_of WORD: the kiln whose command line has WORD (not its forks: the RUN's pid 1 is one)
kiln_of() {
	for p in $(pgrep -x kiln); do
		pp=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
		[ "$(readlink "/proc/$p/exe")" = "$(readlink -f "$KILN")" ] &&
			[ "$(readlink "/proc/$pp/exe")" != "$(readlink -f "$KILN")" ] &&
			grep -qz -- "$1" "/proc/$p/cmdline" 2>/dev/null && echo "$p"
	done
	true
}

# start_build OUT MARKER: a build whose RUN writes /started, then sleeps; waits
# until /started is in the step's upper directory and sets $bg and $kiln_pid
start_build() {
	out=$1 marker=$2
	printf 'FROM busybox:1\nRUN echo %s >/started && exec sleep %s\n' "$marker" "$marker" >"$c/Dockerfile"
	own_ctx
	# a shell's `cmd &` ignores SIGINT; kiln keeps a signal ignored, as nohup wants
	as_runner env --default-signal=INT,TERM "$KILN" build --progress=plain -t "int-$marker:1" "$c" \
		>"$T/$out.out" 2>"$T/$out.log" &
	bg=$!
	i=0
	until grep -qx "$marker" "$tmp"/step*/upper/started 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "the RUN did not start: $(cat "$T/$out.log")"
		sleep 0.05
	done
	kiln_pid=$(kiln_of "int-$marker:1")
	[ -n "$kiln_pid" ] || fail "no kiln process found for $marker"
}

# wait_gone MARKER: no process of the RUN is left
wait_gone() {
	i=0
	while pgrep -f "^sleep $1\$" >/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "the RUN's sleep $1 survived: $(pgrep -af "sleep $1")"
		sleep 0.05
	done
}

# interrupt SIGNAL STATUS MARKER
interrupt() {
	start_build "$1" "$3"
	kill -"$1" "$kiln_pid"
	set +e
	wait "$bg"
	st=$?
	set -e
	expect_eq "$st" "$2" "exit status after SIG$1"
	wait_gone "$3"
	expect_eq "$(ls -A "$tmp")" "" "tmp/ after SIG$1"
	grep -qx "kiln: error: interrupted by SIG$1" "$T/$1.log" || fail "SIG$1: $(cat "$T/$1.log")"
	expect_fail 1 "image 'int-$3:1' not found" as_runner "$KILN" inspect "int-$3:1"
	! grep -q "$KILN_ROOT" /proc/self/mountinfo || fail "a mount is left: $(grep "$KILN_ROOT" /proc/self/mountinfo)"
}

say "SIGINT during a RUN"
interrupt INT 130 "${marker_base}1"
say "SIGTERM during a RUN"
interrupt TERM 143 "${marker_base}2"

say "kill -9: the next store command sweeps what is left, not a live build's work"
start_build live "${marker_base}3"
live_pid=$kiln_pid live_bg=$bg
live_dir=$(ls "$tmp")
start_build dead "${marker_base}4"
kill -9 "$kiln_pid"
wait "$bg" 2>/dev/null || true
wait_gone "${marker_base}4"
dead_dir=$(ls "$tmp" | grep -vx "$live_dir")
[ -n "$dead_dir" ] && [ -d "$tmp/$dead_dir" ] || fail "kill -9 left nothing to sweep: $(ls -A "$tmp")"
as_runner "$KILN" images >/dev/null
[ ! -e "$tmp/$dead_dir" ] || fail "kiln images did not sweep tmp/$dead_dir"
grep -qx "${marker_base}3" "$tmp/$live_dir/upper/started" ||
	fail "the sweep touched the running build's tmp/$live_dir: $(ls -A "$tmp")"
pgrep -f "^sleep ${marker_base}3\$" >/dev/null || fail "the running build's RUN is gone"
kill -INT "$live_pid"
set +e
wait "$live_bg"
st=$?
set -e
expect_eq "$st" 130 "exit status of the live build after SIGINT"
expect_eq "$(ls -A "$tmp")" "" "tmp/ after both builds"

say "the store still works, and is valid"
printf 'FROM busybox:1\nRUN echo after >/after\n' >"$c/Dockerfile"
kb -t after:1 "$c"
expect_eq "$(cat "$(unpack after:1)/after")" after "the build after the interrupts"
as_runner "$KILN" fsck >"$T/fsck" 2>&1 || fail "fsck: $(cat "$T/fsck")"

say "SIGINT during import: the half-written blob goes"
head -c 150M /dev/urandom >"$T/big"
tar -C "$T" -cf "$T/big.tar" big
rm "$T/big"
chmod 0644 "$T/big.tar"
as_runner env --default-signal=INT "$KILN" import "$T/big.tar" big:1 >"$T/imp.out" 2>"$T/imp.log" &
bg=$!
i=0
until ls "$tmp" | grep -q '^blob\.'; do
	i=$((i + 1))
	[ $i -lt 400 ] || fail "import wrote no blob: $(cat "$T/imp.log")"
	sleep 0.02
done
imp_pid=$(kiln_of big.tar)
[ -n "$imp_pid" ] || fail "no kiln import process found (it finished first?)"
kill -INT "$imp_pid"
set +e
wait "$bg"
st=$?
set -e
expect_eq "$st" 130 "import's exit status after SIGINT"
expect_eq "$(ls -A "$tmp")" "" "tmp/ after an interrupted import"
expect_fail 1 "image 'big:1' not found" as_runner "$KILN" inspect big:1

say "SIGINT during push and pull: exit 130, nothing named"
registry_start
as_runner "$KILN" import --compression none "$T/big.tar" big:1 >/dev/null
rm "$T/big.tar"
# wait_for WHAT CMD...: until CMD succeeds
wait_for() {
	what=$1
	shift
	i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -lt 400 ] || fail "$what never happened"
		sleep 0.02
	done
}
as_runner env --default-signal=INT "$KILN" push --tls-verify=false --chunk-size 8m -j 1 big:1 \
	"$REGISTRY/big:1" >"$T/push.out" 2>"$T/push.log" &
bg=$!
wait_for "a PATCH of the push" grep -q "PATCH /v2/big/blobs/uploads" "$T/registry/log"
kill -INT "$(kiln_of "$REGISTRY/big:1")"
set +e
wait "$bg"
st=$?
set -e
expect_eq "$st" 130 "push's exit status after SIGINT: $(cat "$T/push.log")"
grep -qx "kiln: error: interrupted by SIGINT" "$T/push.log" || fail "push: $(cat "$T/push.log")"
expect_fail 1 "MANIFEST_UNKNOWN" as_runner "$KILN" pull "$REGISTRY/big:1"

as_runner "$KILN" push --tls-verify=false big:1 "$REGISTRY/big:1" >/dev/null 2>"$T/push2.log" ||
	fail "push: $(cat "$T/push2.log")"
partial() { ls "$T/store2/tmp" 2>/dev/null | grep -q '^registry-.*\.partial$'; }
as_runner env --default-signal=INT KILN_ROOT="$T/store2" "$KILN" pull "$REGISTRY/big:1" \
	>"$T/pull.out" 2>"$T/pull.log" &
bg=$!
wait_for "a partial download" partial
kill -INT "$(kiln_of "pull")"
set +e
wait "$bg"
st=$?
set -e
expect_eq "$st" 130 "pull's exit status after SIGINT: $(cat "$T/pull.log")"
grep -qx "kiln: error: interrupted by SIGINT" "$T/pull.log" || fail "pull: $(cat "$T/pull.log")"
expect_fail 1 "not found" as_runner env KILN_ROOT="$T/store2" "$KILN" inspect "$REGISTRY/big:1"
# the partial blob stays for the next pull, which resumes it and succeeds
as_runner env KILN_ROOT="$T/store2" "$KILN" pull "$REGISTRY/big:1" >/dev/null 2>"$T/pull2.log" ||
	fail "the resumed pull: $(cat "$T/pull2.log")"
expect_eq "$(ls -A "$T/store2/tmp")" "" "tmp/ after the resumed pull"
