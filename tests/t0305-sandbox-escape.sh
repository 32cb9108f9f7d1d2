#!/bin/sh
# A RUN step tries to leave its sandbox, rootless and as real root, and every
# attempt's effect must be absent:
#  - WORKDIR /proc/self/fd/N (a directory fd kiln leaked, CVE-2024-21626's
#    class) then `cat ../../..` and a write: a host canary stays unread and
#    unchanged;
#  - /proc/1/environ, cmdline, mem and /proc/*/environ: neither kiln's
#    environment nor a --secret env= value (given to kiln, not mounted by
#    the step) is there;
#  - TIOCSTI into the terminal kiln runs on (CVE-2017-5226's class): nothing
#    is typed; RUN is in a session of its own with stdin /dev/null;
#  - mknod + mount of the host disk, mount tmpfs, unshare, keyctl, bpf: fail.
# The static sandbox/tests/escape-helper makes the syscalls busybox lacks.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-sandbox.sh"
. "$KILN_SRC/tests/lib-build.sh"
need_root
need_cmd script bash

env_secret="kiln-env-$(rand)"
cli_secret="kiln-cli-$(rand)"
canary_secret="kiln-canary-$(rand)"

# kbx NAME ARGS...: a build with the secrets in kiln's environment; it may fail
# (a rejected WORKDIR is fine): the status goes to $T/rc.NAME
kbx() {
	name=$1
	shift
	own_ctx
	canary_reset
	set +e
	as_runner env KILN_TEST_SECRET="$env_secret" CLI_SECRET="$cli_secret" \
		"$KILN" build --progress=plain "$@" >"$T/out.$name" 2>"$T/log.$name"
	echo $? >"$T/rc.$name"
	set -e
}

# no_secret NAME [IMAGE]: no secret in the build's output or the image's files
no_secret() {
	for s in "$env_secret" "$cli_secret" "$canary_secret"; do
		! grep -qF "$s" "$T/out.$1" "$T/log.$1" ||
			fail "$mode $1: '$s' in the build output: $(grep -aF "$s" "$T/log.$1" | head -c 300)"
	done
	[ -n "${2:-}" ] && [ "$(cat "$T/rc.$1")" = 0 ] || return 0
	r=$(unpack "$2")
	for s in "$env_secret" "$cli_secret" "$canary_secret"; do
		! grep -rqF "$s" "$r" || fail "$mode $1: '$s' in the image: $(grep -rlF "$s" "$r")"
	done
}

canary_reset() {
	printf '%s' "$canary_secret" >"$canary"
	chmod 0600 "$canary"
	[ "$mode" = root ] || chown "$KILN_TEST_USER:" "$canary"
}

canary_ok() {
	expect_eq "$(cat "$canary")" "$canary_secret" "$mode $1: host canary"
}

run_mode() {
	mode=$1
	KILN_BUILD_AS=$mode
	export KILN_ROOT="$T/store-$mode"
	canary="$T/canary-$mode"
	build_setup

	say "$mode: WORKDIR /proc/self/fd/N, then ../ up to the host"
	for n in 3 4 5 6 7 8 9 10; do
		c=$(ctx "fd$n-$mode")
		cat >"$c/Dockerfile" <<EOF
FROM busybox:1
WORKDIR /proc/self/fd/$n
RUN cat ../../../../../../../../..$canary ../../../../../../../../..$canary >/stolen 2>&1; \
    echo pwned > ../../../../../../../../..$canary; cat /stolen; true
EOF
		kbx "fd$n" -t "fd$n:1" "$c"
		canary_ok "fd$n"
		no_secret "fd$n" "fd$n:1"
	done

	say "$mode: remount a read-only context bind read-write"
	c=$(ctx "remount-$mode")
	printf 'victim' >"$c/victim"
	cat >"$c/Dockerfile" <<'EOF'
FROM busybox:1
RUN --mount=type=bind,target=/ctx mount -o remount,rw,bind /ctx; echo pwned >/ctx/victim; \
    umount /ctx && echo pwned >/ctx/victim; true
EOF
	kbx remount -t remount:1 "$c"
	expect_eq "$(cat "$c/victim")" victim "$mode remount: the context file"

	say "$mode: /proc/1/environ, cmdline, mem and /proc/*/environ"
	c=$(ctx "proc-$mode")
	cp "$HELPER" "$c/escape-helper"
	cat >"$c/Dockerfile" <<'EOF'
FROM busybox:1
COPY escape-helper /h
RUN (cat /proc/1/environ /proc/1/cmdline; for f in /proc/*/environ /proc/*/cmdline; do \
     cat $f; done) >/environ 2>&1; /h memdump 1 >/mem 2>/mem.err; cat /proc/1/environ; \
    tr '\0' ' ' </proc/1/cmdline; echo; echo "pid $$"
EOF
	kbx proc -t proc:1 --secret id=tok,env=CLI_SECRET "$c"
	expect_eq "$(cat "$T/rc.proc")" 0 "$mode proc: build: $(cat "$T/log.proc")"
	no_secret proc proc:1

	say "$mode: TIOCSTI into kiln's terminal; a session of its own; stdin /dev/null"
	c=$(ctx "tty-$mode")
	cp "$HELPER" "$c/escape-helper"
	cat >"$c/Dockerfile" <<'EOF'
FROM busybox:1
COPY escape-helper /h
RUN /h tiocsti; /h session
EOF
	own_ctx
	# kiln on a terminal; what the step types would be read by the next command
	cmd=$(printf 'env KILN_ROOT=%s %s build --progress=plain --no-cache %s >%s 2>&1; IFS= read -r -t 2 line; echo "typed:[$line]" >%s' \
		"$KILN_ROOT" "$KILN" "$c" "$T/log.tty" "$T/typed")
	if [ "$mode" = root ]; then
		script -qec "bash -c '$cmd'" /dev/null >/dev/null </dev/null
	else
		chmod 0777 "$T"
		script -qec "runuser -u $KILN_TEST_USER -- env HOME=$T/home bash -c '$cmd'" \
			/dev/null >/dev/null </dev/null
	fi
	grep -q 'sid=' "$T/log.tty" || fail "$mode tty: the step did not run: $(cat "$T/log.tty")"
	expect_eq "$(cat "$T/typed")" "typed:[]" "$mode tty: typed into kiln's terminal"
	! grep 'tiocsti.*: ok' "$T/log.tty" || fail "$mode tty: TIOCSTI worked"
	sid=$(sed -n 's/.*sid=\([0-9]*\) pid=\([0-9]*\).*/\1 \2/p' "$T/log.tty")
	expect_eq "${sid% *}" "${sid#* }" "$mode tty: the step leads its session"
	expect_contains "$(grep 'stdin=' "$T/log.tty")" "stdin=/dev/null" "$mode tty: stdin"

	say "$mode: mknod + mount of the host disk, mount, unshare, keyctl, bpf"
	dev=$(findmnt -no SOURCE -T "$T")
	top=$(findmnt -no TARGET -T "$T")
	rel=${canary#"${top%/}"}
	maj=$(stat -c '%t' "$dev")
	min=$(stat -c '%T' "$dev")
	c=$(ctx "dev-$mode")
	cp "$HELPER" "$c/escape-helper"
	cat >"$c/Dockerfile" <<EOF
FROM busybox:1
COPY escape-helper /h
RUN mkdir -p /m /t; for d in /disk /dev/disk; do mknod \$d b $((0x$maj)) $((0x$min)) && \
    mount \$d /m && echo "mount host disk: ok"; done; cat /m$rel; echo pwned > /m$rel; \
    /h syscalls /t; unshare -U true && echo "unshare -U: ok"; \
    mount -t tmpfs none /t && echo "mount -t tmpfs: ok"; true
EOF
	kbx dev -t dev:1 "$c"
	expect_eq "$(cat "$T/rc.dev")" 0 "$mode dev: build: $(cat "$T/log.dev")"
	canary_ok dev
	no_secret dev dev:1
	! grep -E ': ok$' "$T/log.dev" || fail "$mode dev: a syscall worked: $(cat "$T/log.dev")"
}

run_mode builder
run_mode root
