#!/bin/sh
# The RUN sandbox as real root: no user namespace, ownership kept as it is,
# the same isolation (a subset of t0301).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-sandbox.sh"
need_root

mkdir "$T/lower"
tar -C "$T/lower" -xf "$(busybox_rootfs_tar)"
step() {
	name=$1
	shift
	mkdir -p "$T/$name" "$T/$name.work"
	"$PROBE" --lower "$T/lower" --upper "$T/$name" --work "$T/$name.work" "$@"
}

expect_eq "$("$PROBE" --overlay-supported "$T")" 1 "overlay supported as root"

say "ownership is kept as is, whiteouts are 0/0 devices, nothing else is in the upperdir"
step up1 --hostname rootbox -- sh -c 'echo hi >/x && chown 1000:1000 /x && rm /bin/ls &&
	cat /etc/hostname && grep -q localhost /etc/hosts && test -f /etc/resolv.conf'
expect_eq "$(stat -c %u:%g "$T/up1/x")" 1000:1000 "owner of /x"
expect_eq "$(stat -c '%F %t:%T' "$T/up1/bin/ls")" "character special file 0:0" "whiteout"
expect_eq "$(tree up1)" "./bin ./bin/ls ./x " "upperdir"

say "uid, processes, network, host files"
expect_eq "$(step up2 --uid 1000 --gid 1000 -- id -u)" 1000 "uid"
expect_eq "$(step up2 -- sh -c 'set -- /proc/[0-9]*; echo $#')" 1 "processes visible (the command is pid 1)"
expect_eq "$(step up2 --network none -- sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "')" \
	lo "interfaces with --network none"
out=$(step up2 -- sh -c "ls /work 2>&1; ls $T 2>&1 || true")
expect_contains "$out" "/work: No such file or directory" "/work hidden"
expect_contains "$out" "$T: No such file or directory" "test directory hidden"
expect_eq "$(tree up2)" "" "upperdir of read-only steps"

say "the host's mount table is untouched"
! grep -q "$T" /proc/self/mountinfo || fail "a sandbox mount leaked into the host: $(grep "$T" /proc/self/mountinfo)"

say "exit status and errors"
set +e
step up3 -- sh -c 'exit 7'
st=$?
set -e
expect_eq "$st" 7 "exit status"
expect_fail 125 "sandbox: exec 'no-such-command': No such file or directory" step up3 -- no-such-command
expect_fail 125 "open lowerdir '$T/no-such-lower': No such file or directory" \
	"$PROBE" --lower "$T/no-such-lower" --upper "$T/up3" --work "$T/up3.work" -- true
# an upperdir on another filesystem than the workdir: the kernel refuses, the child reports it
shm=$(mktemp -d /dev/shm/kiln-t0302.XXXXXX)
set +e
"$PROBE" --lower "$T/lower" --upper "$shm" --work "$T/up3.work" -- true 2>"$T/err"
st=$?
set -e
rm -rf "$shm"
expect_eq "$st" 125 "status of a failed overlay mount"
expect_eq "$(cat "$T/err")" \
	"sandbox-probe: error: sandbox: mount overlay on '$T/up3.work/root': Invalid argument" "message"

say "threads allocating in the parent do not deadlock the child (200 steps)"
out=$(timeout 120 "$PROBE" --lower "$T/lower" --upper "$T/up2" --work "$T/up2.work" \
	--busy-threads 2 --repeat 200 -- true 2>&1) || fail "steps with busy threads: $out"
say "$out"

say "copy mode"
mkdir "$T/copy" "$T/copy.work"
tar -C "$T/copy" -xf "$(busybox_rootfs_tar)"
"$PROBE" --rootfs "$T/copy" --work "$T/copy.work" -- sh -c 'echo c >/c && chown 123:456 /c'
expect_eq "$(stat -c %u:%g "$T/copy/c")" 123:456 "owner in copy mode"
[ ! -e "$T/copy/etc/hosts" ] || fail "/etc/hosts was left in the rootfs"

say "copy mode's diff walk gives what overlayfs gives, as root"
script='echo new >/new && mkdir -p /a/b && echo f >/a/b/f && chown -R 1000:1001 /a &&
	echo more >>/etc/passwd && rm /bin/ls && rm -rf /usr/sbin && ln -s /a/b/f /link &&
	setpriv --help >/dev/null 2>&1; rm /bin/cat && mkdir /bin/cat'
step ovl -- sh -c "$script"
mkdir "$T/copy2" "$T/copy2.work" "$T/diff2"
tar -C "$T/copy2" -xf "$(busybox_rootfs_tar)"
"$PROBE" --rootfs "$T/copy2" --work "$T/copy2.work" -- sh -c "$script"
"$PROBE" --rootfs "$T/copy2" --lower "$T/lower" --diff "$T/diff2"
listing ovl >"$T/ovl.list"
listing diff2 >"$T/diff2.list"
diff -u "$T/ovl.list" "$T/diff2.list" >&2 || fail "the copy-mode diff differs from overlayfs's upperdir"
grep -q '^./a/b/f f 644 1000:1001 ' "$T/diff2.list" || fail "owners: $(cat "$T/diff2.list")"
