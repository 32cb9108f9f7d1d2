#!/bin/sh
# chroot isolation (issue 13): root in a default podman container, where RUN
# runs in chroot(2). A RUN step tries to leave the chroot and to read what is
# kiln's, and every attempt's effect must be absent:
#  - the classic chroot escape (chroot into a subdirectory, chdir .. past
#    the old root, chroot .) then read and write a canary outside: no
#    CAP_SYS_CHROOT, the canary stays unread and unchanged;
#  - `cd ../../..` from / and reads of the canary's and the store's paths;
#  - ptrace of its parent, kiln (root, like the step): kiln is non-dumpable;
#  - /proc/1/root, /proc/1/environ: no /proc at all;
#  - the registry auth file (REGISTRY_AUTH_FILE) and kiln's environment: not
#    in the rootfs, not in RUN's environment.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-sandbox.sh"
. "$KILN_SRC/tests/lib-container.sh"
ctr_setup
cp "$(busybox_rootfs_tar)" "$T/base.tar"

canary_secret="kiln-canary-$(rand)"
auth_secret="kiln-auth-$(rand)"
env_secret="kiln-env-$(rand)"
echo "$canary_secret" >"$T/canary"
printf '{"auths":{"r.example":{"auth":"%s"}}}\n' "$(printf 'u:%s' "$auth_secret" | base64)" \
	>"$T/auth.json"
printf '%s\n' "$auth_secret" >"$T/auth-plain"
before=$(sha256sum "$T/canary")

mkdir -p "$T/c"
cp "$HELPER" "$T/c/eh"
cat >"$T/c/Dockerfile" <<DF
FROM busybox:1
COPY eh /eh
RUN ["/eh", "ptrace"]
RUN /eh chroot $T/canary > /chroot.txt 2>&1; \\
    ls /proc/1/root > /proc1.txt 2>&1; cat /proc/1/environ > /environ.txt 2>&1; \\
    cat $T/auth.json $T/auth-plain > /auth.txt 2>&1; ls $T/store > /store.txt 2>&1; \\
    env > /env.txt; cd ../../..; pwd > /cd.txt; ls -a > /cd-ls.txt; \\
    cat ../../../..$T/canary > /cd-canary.txt 2>&1; \\
    echo pwned > ../../../..$T/canary 2>/dev/null; \\
    cat /dev/null > /devnull.txt 2>&1; true
DF
chmod -R a+rX "$T/c"

set +e
ctr -e KILN_ROOT="$T/store" -e REGISTRY_AUTH_FILE="$T/auth.json" -e KILN_SECRET="$env_secret" \
	-- sh -c "'$KILN' import '$T/base.tar' busybox:1 >/dev/null &&
	 '$KILN' build --progress=plain -t out:1 '$T/c'" >"$T/log" 2>&1
rc=$?
set -e
[ "$rc" = 0 ] || fail "build: $(cat "$T/log")"
grep -q '^# isolation: chroot' "$T/log" || fail "not chroot isolation: $(cat "$T/log")"

expect_eq "$(sha256sum "$T/canary")" "$before" "the canary"
u=$T/u
umoci unpack --image "$T/store:out:1" "$u" >/dev/null
r=$u/rootfs
for s in "$canary_secret" "$auth_secret" "$env_secret" "$(printf 'u:%s' "$auth_secret" | base64)"; do
	! grep -rqF "$s" "$r" "$T/log" || fail "a secret leaked into the image or the log: $s"
done
grep -q '^chroot: Operation not permitted' "$r/chroot.txt" ||
	fail "chroot in RUN: $(cat "$r/chroot.txt")"
# exec form: the helper is the step's first process, kiln its parent
grep -q '^#[0-9]* ptrace: Operation not permitted' "$T/log" ||
	fail "ptrace of kiln: $(cat "$T/log")"
grep -q 'No such file' "$r/proc1.txt" || fail "/proc/1/root: $(cat "$r/proc1.txt")"
grep -q 'No such file' "$r/store.txt" || fail "the store: $(cat "$r/store.txt")"
grep -q 'No such file' "$r/cd-canary.txt" || fail "cd ..: $(cat "$r/cd-canary.txt")"
expect_eq "$(cat "$r/cd.txt")" "/" "pwd after cd ../../.."
grep -qx 'eh' "$r/cd-ls.txt" || fail "cd .. left the rootfs: $(cat "$r/cd-ls.txt")"
! grep -q 'KILN_SECRET\|REGISTRY_AUTH_FILE\|KILN_ROOT' "$r/env.txt" ||
	fail "kiln's environment in RUN: $(cat "$r/env.txt")"
say "ok: $(tr '\n' ' ' <"$r/chroot.txt")$(grep -o 'ptrace: .*' "$T/log")"
