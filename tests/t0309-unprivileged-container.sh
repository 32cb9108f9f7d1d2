#!/bin/sh
# kiln inside a default podman container (issue 13): root in it (podman's
# default capabilities and seccomp, no CAP_SYS_ADMIN, masked /proc paths), and
# a non-root user without subordinate ids. In each, import a base, build a
# Dockerfile with RUN (a user added, chown to it, a deleted base file) and COPY, and check
# the image on the host, from the store on a bind mount: the layers and the
# config, and the files through podman run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
. "$KILN_SRC/tests/lib-container.sh"
ctr_setup
cp "$(busybox_rootfs_tar)" "$T/base.tar"

mkdir -p "$T/c"
cat >"$T/c/Dockerfile" <<'DF'
FROM busybox:1
RUN echo hi > /made && echo u1:x:1234:1234::/:/bin/sh >> /etc/passwd && \
    echo u1:x:1234: >> /etc/group && chown u1:u1 /made && rm /linuxrc
COPY f /copied
RUN cat /copied >> /made && echo gone > /dev/null
DF
echo "from the context" >"$T/c/f"
chmod -R a+rX "$T/c"

# as a user without subordinate ids: one id, chown to another fails (clearly)
sed -e 's/ && chown u1:u1 \/made//' "$T/c/Dockerfile" >"$T/c/Dockerfile.one-id"

# build_in WHO STORE DOCKERFILE [PODMAN-OPTS]: import + build in the container as WHO
# the build's time in STORE.d/ms
build_in() {
	who=$1 store=$2 df=$3
	shift 3
	mkdir -p "$store" "$store.d"
	[ "$who" = root ] || chown 1000:1000 "$store" "$store.d"
	chown "$(stat -c %u:%g "$store")" "$store.d"
	set +e
	ctr --user "$who" -e KILN_ROOT="$store" "$@" -- sh -c \
		"'$KILN' import '$T/base.tar' busybox:1 >/dev/null && s=\$(date +%s%N) &&
		 '$KILN' build --progress=plain -f '$T/c/$df' -t out:1 '$T/c' &&
		 echo \$(( (\$(date +%s%N) - s) / 1000000 )) > '$store.d/ms' &&
		 '$KILN' info --format json > '$store.d/info' &&
		 '$KILN' images --format '{{.Repository}}:{{.Tag}} ' > '$store.d/images' &&
		 '$KILN' save --format oci-layout -o '$store.d/oci' out:1" >"$T/log.$who" 2>&1
	rc=$?
	set -e
	[ "$rc" = 0 ] || fail "build as $who in a default container: $(cat "$T/log.$who")"
}

# check STORE OWNER [ISOLATION STORAGE]: the image, read on the host
check() {
	store=$1 owner=$2 iso=${3:-chroot} storage=${4:-copy}
	u=$T/u-$(basename "$store")
	umoci unpack --image "$store:out:1" "$u" >/dev/null
	expect_eq "$(cat "$u/rootfs/made")" "hi
from the context" "/made"
	expect_eq "$(stat -c %u:%g "$u/rootfs/made")" "$owner" "owner of /made"
	grep -q '^u1:x:1234:' "$u/rootfs/etc/passwd" || fail "no u1 in /etc/passwd"
	[ ! -e "$u/rootfs/linuxrc" ] && [ ! -L "$u/rootfs/linuxrc" ] || fail "/linuxrc not deleted"
	expect_eq "$(cat "$u/rootfs/copied")" "from the context" "COPY"
	# no /dev/null kiln made, nor a plain file a RUN wrote where it could not make one
	[ ! -f "$u/rootfs/dev/null" ] || fail "a plain /dev/null in the image"
	expect_eq "$(ls -A "$u/rootfs/dev")" "" "/dev in the image"
	n=$(skopeo inspect --raw "oci:$store:out:1" | jq '.layers | length')
	expect_eq "$n" 4 "layers"
	# the store commands need no namespace: images, save
	grep -q '^out:1 ' "$store.d/images" ||
		fail "kiln images in the container: $(cat "$store.d/images")"
	expect_eq "$(skopeo inspect --raw "oci:$store.d/oci:out:1" | jq -r .config.digest)" \
		"$(skopeo inspect --raw "oci:$store:out:1" | jq -r .config.digest)" "saved image"
	expect_eq "$(jq -r .isolation "$store.d/info")" "$iso" "kiln info: isolation"
	expect_eq "$(jq -r .storage "$store.d/info")" "$storage" "kiln info: storage"
	shapes="$shapes
$(printf '%-58s %-16s %6s ms' "$shape" "$iso" "$(cat "$store.d/ms")")"
}
shapes=""

shape="root, default container"
say "$shape"
build_in root "$T/store-root" Dockerfile
grep -q '^# isolation: chroot (no namespaces: unshare mount namespace: Operation not permitted)' \
	"$T/log.root" || fail "isolation not said: $(cat "$T/log.root")"
check "$T/store-root" 1234:1234
expect_eq "$(jq -r .isolation_why "$T/store-root.d/info")" \
	"no namespaces: unshare mount namespace: Operation not permitted" "kiln info: why"

say "root in a default container: push, pull (no namespace needed)"
registry_start
ctr --host-network -e KILN_ROOT="$T/store-root" -- sh -c \
	"'$KILN' push --tls-verify=false out:1 '$REGISTRY/iso/out:1' >/dev/null &&
	 '$KILN' pull --tls-verify=false '$REGISTRY/iso/out:1' pulled:1 >/dev/null" >"$T/log.push" 2>&1 ||
	fail "push/pull in a default container: $(cat "$T/log.push")"
expect_eq "$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/iso/out:1" | jq -r .config.digest)" \
	"$(skopeo inspect --raw "oci:$T/store-root:out:1" | jq -r .config.digest)" "pushed image"
skopeo inspect --raw "oci:$T/store-root:pulled:1" >/dev/null || fail "pulled:1 not in the store"

shape="non-root user, default container"
say "$shape"
build_in 1000:1000 "$T/store-user" Dockerfile.one-id
grep -q '^# isolation: chroot (no namespaces: sethostname: Operation not permitted)' \
	"$T/log.1000:1000" || fail "isolation not said: $(cat "$T/log.1000:1000")"
check "$T/store-user" 0:0
expect_eq "$(jq -r .isolation_why "$T/store-user.d/info")" \
	"no namespaces: sethostname: Operation not permitted" "kiln info: why (user)"
expect_eq "$(jq -r .subuid "$T/store-user.d/info")" "none for 'b' in /etc/subuid" "kiln info: subuid"

shape="root, Docker's 14 capabilities, no-new-privileges"
say "$shape"
build_in root "$T/store-docker" Dockerfile --cap-drop=all \
	--cap-add=CHOWN,DAC_OVERRIDE,FSETID,FOWNER,MKNOD,NET_RAW,SETGID,SETUID,SETFCAP,SETPCAP,NET_BIND_SERVICE,SYS_CHROOT,KILL,AUDIT_WRITE \
	--security-opt no-new-privileges
grep -q '^# isolation: chroot (no namespaces: ' "$T/log.root" || fail "$(cat "$T/log.root")"
check "$T/store-docker" 1234:1234
# with CAP_MKNOD the step's /dev is made, and taken away again
[ ! -e "$T/u-store-docker/rootfs/dev/null" ] || [ -c "$T/u-store-docker/rootfs/dev/null" ] ||
	fail "a /dev/null that is not a device in the image"

say "root, --isolation=sandbox where it cannot be made: a clear error"
set +e
ctr -e KILN_ROOT="$T/store-root" -- "$KILN" build --isolation=sandbox -t no:1 "$T/c" \
	>"$T/log.sandbox" 2>&1
rc=$?
set -e
expect_eq "$rc" 1 "--isolation=sandbox in a default container"
grep -q "isolation=sandbox: the sandbox's namespaces cannot be made here (unshare mount namespace: Operation not permitted)" \
	"$T/log.sandbox" || fail "$(cat "$T/log.sandbox")"

# seccomp allows unshare and mount: root (no CAP_SYS_ADMIN) makes a user
# namespace of its own, where a fresh procfs is refused (podman's masked
# /proc paths): the reduced sandbox, on overlayfs. RUN's default network needs
# /dev/net/tun, which a container lacks: RUN gets the container's, and is told.
reduced_why="no fresh /proc: mount proc: Operation not permitted; the outer /proc is bound read-only"
reduced="reduced sandbox ($reduced_why)"
shape="root, seccomp=unconfined"
say "$shape"
build_in root "$T/store-unconfined" Dockerfile --security-opt seccomp=unconfined
grep -qxF "# isolation: $reduced" "$T/log.root" || fail "isolation not said: $(cat "$T/log.root")"
grep -qxF "# network: the container's, as --network=host (no usable /dev/net/tun for pasta or slirp4netns: No such file or directory)" \
	"$T/log.root" || fail "network not said: $(cat "$T/log.root")"
check "$T/store-unconfined" 1234:1234 "reduced sandbox" overlay
expect_eq "$(jq -r .isolation_why "$T/store-unconfined.d/info")" "$reduced_why" \
	"kiln info: why (reduced)"
expect_eq "$(jq -r .userns "$T/store-unconfined.d/info")" \
	"entered by root, which has no CAP_SYS_ADMIN (its ids mapped to themselves)" "kiln info: userns"

shape="non-root user, seccomp=unconfined"
say "$shape"
build_in 1000:1000 "$T/store-user-unconfined" Dockerfile.one-id \
	--security-opt seccomp=unconfined
grep -qxF "# isolation: $reduced" "$T/log.1000:1000" || fail "$(cat "$T/log.1000:1000")"
check "$T/store-user-unconfined" 0:0 "reduced sandbox" overlay

# What the outer /proc shows RUN: the container's processes, kiln's among them.
# It must not write /proc/sys, nor read kiln's (or the container's pid 1's)
# environment, root or fds: a canary in kiln's environment and a file only
# kiln's root holds stay out of the image and the log.
say "the reduced sandbox's /proc: read-only, no way to kiln's environment or root"
mkdir -p "$T/hidden" "$T/p"
echo "canary-file-$$" >"$T/hidden/canary"
chmod 0700 "$T/hidden"
cat >"$T/p/Dockerfile" <<DF
FROM busybox:1
RUN v=\$(cat /proc/sys/vm/swappiness) && (echo "\$v" > /proc/sys/vm/swappiness) 2>/sysw; \\
    echo "rc=\$?" >> /sysw; \\
    ls /proc | grep -c '^[0-9]' > /npids; \\
    cat /proc/[0-9]*/environ > /env 2>/dev/null; \\
    cat /proc/[0-9]*/root$T/hidden/canary /proc/[0-9]*/cwd/hidden/canary > /root-peek 2>/dev/null; \\
    ls -l /proc/[0-9]*/fd/ > /fds 2>/dev/null; \\
    cat /proc/[0-9]*/cmdline | tr '\\0' ' ' > /cmdlines; true
DF
chmod -R a+rX "$T/p"
mkdir -p "$T/store-proc"
# a password given with --creds is in kiln's argv, which /proc/PID/cmdline shows
ctr --host-network -e KILN_ROOT="$T/store-proc" -e KILN_CANARY="env-canary-$$" \
	-e KC="pw-canary-$$" --security-opt seccomp=unconfined --workdir "$T" -- sh -c \
	"'$KILN' import '$T/base.tar' busybox:1 >/dev/null &&
	 '$KILN' build --progress=plain --creds \"u:\$KC\" -t p:1 '$T/p'" \
	>"$T/log.proc" 2>&1 ||
	fail "build in the reduced sandbox: $(cat "$T/log.proc")"
grep -qxF "# isolation: $reduced" "$T/log.proc" || fail "$(cat "$T/log.proc")"
u=$T/u-proc
umoci unpack --image "$T/store-proc:p:1" "$u" >/dev/null
grep -q 'Read-only file system' "$u/rootfs/sysw" || fail "/proc/sys: $(cat "$u/rootfs/sysw")"
grep -qx 'rc=1' "$u/rootfs/sysw" || fail "/proc/sys written: $(cat "$u/rootfs/sysw")"
[ "$(cat "$u/rootfs/npids")" -ge 2 ] || fail "RUN sees no outer processes: $(cat "$u/rootfs/npids")"
grep -q "build --progress=plain --creds u:x* -t p:1" "$u/rootfs/cmdlines" ||
	fail "kiln's command line not seen: $(cat "$u/rootfs/cmdlines")"
for f in env root-peek fds cmdlines; do
	if grep -qE "env-canary-$$|canary-file-$$|pw-canary-$$" "$u/rootfs/$f"; then
		fail "/$f in the image holds a canary"
	fi
done
if grep -qE "env-canary-$$|canary-file-$$|pw-canary-$$" "$T/log.proc"; then
	fail "a canary in the build log"
fi
expect_eq "$(cat "$u/rootfs/root-peek")" "" "kiln's root through /proc"

shape="root, a user namespace of 65536 ids (--uidmap)"
say "$shape"
mkdir -p "$T/store-map"
chown 300000:300000 "$T/store-map"
build_in root "$T/store-map" Dockerfile --uidmap 0:300000:65536 --gidmap 0:300000:65536
grep -q '^# isolation: chroot (no namespaces: ' "$T/log.root" || fail "$(cat "$T/log.root")"
check "$T/store-map" 1234:1234
expect_eq "$(jq -r .userns "$T/store-map.d/info")" \
	"inherited (kiln is root of a user namespace it did not make)" "kiln info: userns"

# Docker's default profile refuses unshare(CLONE_NEWUSER) without CAP_SYS_ADMIN:
# a user there has no namespace at all. The store commands still work; a build
# says why it cannot and what to do.
say "non-root user, a seccomp profile that refuses unshare"
cat >"$T/no-unshare.json" <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
  {"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
  {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}
JSON
mkdir -p "$T/store-nous" "$T/nous.d"
chown 1000:1000 "$T/store-nous" "$T/nous.d"
set +e
ctr --user 1000:1000 -e KILN_ROOT="$T/store-nous" --security-opt "seccomp=$T/no-unshare.json" -- \
	sh -c "'$KILN' import '$T/base.tar' busybox:1 >/dev/null && '$KILN' images --format '{{.Repository}}:{{.Tag}} ' &&
	       '$KILN' info --format json > '$T/nous.d/info' &&
	       '$KILN' build --progress=plain -t out:1 '$T/c'" >"$T/log.nous" 2>&1
rc=$?
set -e
expect_eq "$rc" 1 "a build without any namespace as a user"
grep -q '^busybox:1 ' "$T/log.nous" || fail "kiln images: $(cat "$T/log.nous")"
grep -q "error: enter a user namespace as 'b': unshare a user namespace: Operation not permitted" \
	"$T/log.nous" || fail "$(cat "$T/log.nous")"
grep -q "run kiln as root in the container, where RUN gets chroot isolation" "$T/log.nous" ||
	fail "no hint: $(cat "$T/log.nous")"
expect_eq "$(jq -r .isolation "$T/nous.d/info")" none "kiln info: isolation without namespaces"

# For the note: which isolation each shape got, and its build's time against
# the same build on the host (root, the full sandbox, --network=host as the
# container's builds have it).
mkdir -p "$T/store-host"
s=$(date +%s%N)
KILN_ROOT="$T/store-host" "$KILN" import "$T/base.tar" busybox:1 >/dev/null
s=$(date +%s%N)
KILN_ROOT="$T/store-host" "$KILN" build --progress=plain --network=host -t out:1 "$T/c" \
	>"$T/log.host" 2>&1 || fail "build on the host: $(cat "$T/log.host")"
host_ms=$(( ($(date +%s%N) - s) / 1000000 ))
say "shape                                                      isolation         build"
printf '%s\n' "$shapes" | sed -e '/^$/d' -e 's/^/# /'
say "$(printf '%-58s %-16s %6s ms' "host, root" "$(sed -n 's/^# isolation: \([a-z ]*\) (.*/\1/p' "$T/log.host")" "$host_ms")"
