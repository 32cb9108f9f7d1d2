#!/bin/sh
# kiln run [--rm] IMAGE [CMD...]: the image's entrypoint and command in RUN's
# sandbox, rootless and as root: output and exit status (the command's), the
# image's Env and -e, the image's USER and --user, -w, -v HOST:CTR rw and ro,
# a symlink in the image that would point a -v mount point at the host, -i and
# -t (a terminal only with -t), --network none; and the image's snapshots are
# byte for byte the same after a run that wrecks its root.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
need_cmd script

kr() { as_runner "$KILN" run "$@"; }

# status CMD...: run it, print its exit status
status() {
	set +e
	"$@" >"$T/run.out" 2>"$T/run.err"
	echo $?
	set -e
}

# in_script CMD: CMD on a pseudo-terminal (util-linux script), as the runner
in_script() {
	rc=0
	if [ "$KILN_BUILD_AS" = root ]; then
		script -qec "$1" /dev/null || rc=$?
	else
		as_builder env KILN_ROOT="$KILN_ROOT" script -qec "$1" /dev/null || rc=$?
	fi
	echo $rc >"$T/script.rc"
}

snap_sum() {
	(cd "$KILN_ROOT/snapshots" && find . -printf '%p %y %m %U %G %s %T@ %l\n' | sort &&
		find . -type f -exec sha256sum {} + | sort) | sha256sum
}

one_user() {
	say "as $KILN_BUILD_AS"
	build_setup
	H=$T/h-$KILN_BUILD_AS
	mkdir -p "$H/vol" "$H/canary"
	echo host >"$H/vol/f"
	[ "$KILN_BUILD_AS" = root ] || chown -R "$KILN_TEST_USER": "$H"
	c=$(ctx run-$KILN_BUILD_AS)
	cat >"$c/Dockerfile" <<DF
FROM busybox:1
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >>/etc/passwd && echo 'app:x:1000:' >>/etc/group && \
    mkdir -p /home/app /srv && chown 1000:1000 /home/app && ln -s $H/canary /trap && echo image >/srv/f
ENV FROM_IMAGE=1 OVER=image
WORKDIR /srv
USER app
CMD ["sh", "-c", "echo default-cmd; id -u"]
DF
	kb -t app:1 "$c"

	say "output, exit status, the image's CMD, USER, WORKDIR and Env"
	expect_eq "$(kr app:1)" "default-cmd
1000" "the image's CMD as its USER"
	expect_eq "$(status kr --rm app:1 sh -c 'echo out; echo err >&2; exit 42')" 42 "exit status"
	expect_eq "$(cat "$T/run.out")" out "stdout"
	expect_eq "$(cat "$T/run.err")" err "stderr"
	expect_fail 1 "exec 'nosuch'" kr app:1 nosuch
	expect_eq "$(kr app:1 sh -c 'pwd; echo $HOME $FROM_IMAGE $OVER')" "/srv
/home/app 1 image" "WORKDIR, HOME of USER, Env"
	expect_eq "$(KILN_T_VAR=fromhost kr -e OVER=cli -e NEW=x -e KILN_T_VAR -e FROM_IMAGE app:1 \
		sh -c 'echo $OVER $NEW $KILN_T_VAR ${FROM_IMAGE-unset}')" "cli x fromhost unset" "-e K=V, -e K"
	expect_eq "$(kr --user 0 -w /tmp app:1 sh -c 'id -u; pwd')" "0
/tmp" "--user 0, -w"
	expect_eq "$(kr -u 7:8 app:1 id)" "uid=7 gid=8 groups=8" "--user UID:GID"
	expect_eq "$(kr --entrypoint echo app:1 a b)" "a b" "--entrypoint"

	say "-v HOST:CTR, rw and ro"
	expect_eq "$(kr -u 0 -v "$H/vol:/data" app:1 sh -c 'cat /data/f; echo new >/data/g')" host "-v rw reads"
	expect_eq "$(cat "$H/vol/g")" new "-v rw writes reach the host"
	expect_eq "$(stat -c %u "$H/vol/g")" "$(as_runner id -u)" "a file root made is the caller's"
	expect_eq "$(status kr -u 0 -v "$H/vol:/data:ro" app:1 sh -c 'echo bad >/data/f')" 1 "-v ro refuses writes"
	expect_eq "$(cat "$H/vol/f")" host "-v ro: the host file is unchanged"
	expect_fail 1 "mount point '/trap/sub': '/trap' is not a directory in the image" \
		kr -u 0 -v "$H/vol:/trap/sub" app:1 true
	[ ! -e "$H/canary/sub" ] || fail "a symlink in the image put the mount point on the host"
	expect_fail 2 "-v: expected HOST:CONTAINER[:ro|rw], got '$H/vol'" kr -v "$H/vol" app:1 true
	expect_fail 2 "expected ro or rw after the paths, got 'rx'" kr -v "$H/vol:/d:rx" app:1 true
	expect_fail 1 "-v $T/nope:/d: open '$T/nope'" kr -v "$T/nope:/d" app:1 true

	say "stdin: /dev/null, -i, and a terminal only with -t"
	expect_eq "$(echo in | kr app:1 sh -c 'cat; test -t 0 || echo no-tty')" no-tty "no -i: stdin is /dev/null"
	expect_eq "$(echo in | kr -i app:1 cat)" in "-i: stdin is kiln's"
	# on a terminal (script's pty), with input that stays open for a while
	(printf 'hello\n'; sleep 2) | in_script "$KILN run app:1 sh -c 'test -t 0 || test -t 1 || test -t 2 || echo NO-TTY'" >"$T/tty.out"
	(printf 'hello\n'; sleep 2) | in_script "$KILN run -i app:1 sh -c 'test -t 0 || test -t 1 || read x && echo PIPE-\$x'" >"$T/tty3.out"
	(printf 'hello\n'; sleep 2) | in_script "$KILN run -it app:1 sh -c 'test -t 0 && test -t 1 && test -t 2 && read x && echo TTY-\$x; exit 5'" >"$T/tty2.out"
	grep -q NO-TTY "$T/tty.out" || fail "without -t the command had a terminal: $(cat "$T/tty.out")"
	grep -q TTY-hello "$T/tty2.out" || fail "-it gave no terminal: $(cat "$T/tty2.out")"
	grep -q PIPE-hello "$T/tty3.out" || fail "-i on a terminal: $(cat "$T/tty3.out")"
	expect_eq "$(cat "$T/script.rc")" 5 "-it: the exit status"

	say "--network none, host, default"
	expect_eq "$(kr --network none app:1 sh -c 'ls /sys/class/net')" lo "--network none: only lo"
	expect_eq "$(kr --network host app:1 ls /sys/class/net | tr '\n' ' ')" "$(ls /sys/class/net | tr '\n' ' ')" "--network host"
	if command -v pasta >/dev/null; then
		expect_eq "$(kr app:1 cat /etc/resolv.conf)" "nameserver 169.254.1.1" "the default network is RUN's (pasta)"
	fi
	expect_fail 2 "--network: expected default, host or none, got 'x'" kr --network x app:1 true

	say "the image's snapshots are unchanged by a run that wrecks its root"
	before=$(snap_sum)
	expect_eq "$(status kr -u 0 app:1 sh -c 'echo x >/srv/f; rm -rf /etc /home; chmod 0 /bin; touch /new')" 0 "wrecking run"
	expect_eq "$(snap_sum)" "$before" "snapshots after the run"
	expect_eq "$(kr app:1 cat /srv/f)" image "the next run sees the image"
	as_runner "$KILN" fsck >/dev/null || fail "kiln fsck after the runs"
	expect_fail 1 "image 'nothere:1' is not in the store" kr --pull never nothere:1
	if [ "$KILN_BUILD_AS" = root ]; then
		say "SIGTERM kills the command, kiln says so and leaves nothing in tmp/"
		start=$(date +%s)
		"$KILN" run app:1 sleep 100 >/dev/null 2>"$T/term.err" &
		p=$!
		sleep 2
		kill -TERM "$p"
		rc=0
		wait "$p" || rc=$?
		expect_eq "$rc" 143 "exit status after SIGTERM"
		[ $(($(date +%s) - start)) -lt 60 ] || fail "the command outlived SIGTERM"
		grep -q "interrupted by SIGTERM" "$T/term.err" || fail "no word of the signal: $(cat "$T/term.err")"
		[ -z "$(ls "$KILN_ROOT/tmp")" ] || fail "left in tmp/: $(ls "$KILN_ROOT/tmp")"
	fi
	expect_fail 2 "run: expected an image" kr
}

one_user
if [ "$(id -u)" = 0 ]; then
	KILN_BUILD_AS=root
	export KILN_ROOT="$T/store-root"
	one_user
fi
say "ok"
