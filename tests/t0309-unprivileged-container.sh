#!/bin/sh
# kiln inside a default podman container (issue 13): root in it (podman's
# default capabilities and seccomp, no CAP_SYS_ADMIN, masked /proc paths), and
# a non-root user without subordinate ids. In each, import a base, build a
# Dockerfile with RUN (adduser, chown, a deleted base file) and COPY, and check
# the image on the host, from the store on a bind mount: the layers and the
# config, and the files through podman run.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-container.sh"
ctr_setup
cp "$(busybox_rootfs_tar)" "$T/base.tar"

mkdir -p "$T/c"
cat >"$T/c/Dockerfile" <<'DF'
FROM busybox:1
RUN echo hi > /made && adduser -D -u 1234 u1 && chown u1:u1 /made && rm /linuxrc
COPY f /copied
RUN cat /copied >> /made
DF
echo "from the context" >"$T/c/f"
chmod -R a+rX "$T/c"

# build_in WHO STORE [PODMAN-OPTS]: import + build in the container as WHO
build_in() {
	who=$1 store=$2
	shift 2
	mkdir -p "$store"
	[ "$who" = root ] || chown 1000:1000 "$store"
	set +e
	ctr --user "$who" -e KILN_ROOT="$store" "$@" -- sh -c \
		"'$KILN' import '$T/base.tar' busybox:1 >/dev/null &&
		 '$KILN' build --progress=plain -t out:1 '$T/c'" >"$T/log.$who" 2>&1
	rc=$?
	set -e
	[ "$rc" = 0 ] || fail "build as $who in a default container: $(cat "$T/log.$who")"
}

# check STORE: the image, read on the host
check() {
	store=$1
	u=$T/u-$(basename "$store")
	umoci unpack --image "$store:out:1" "$u" >/dev/null
	expect_eq "$(cat "$u/rootfs/made")" "hi
from the context" "/made"
	expect_eq "$(stat -c %u:%g "$u/rootfs/made")" "1234:1234" "owner of /made"
	grep -q '^u1:x:1234:' "$u/rootfs/etc/passwd" || fail "adduser: no u1 in /etc/passwd"
	[ ! -e "$u/rootfs/linuxrc" ] && [ ! -L "$u/rootfs/linuxrc" ] || fail "/linuxrc not deleted"
	expect_eq "$(cat "$u/rootfs/copied")" "from the context" "COPY"
	n=$(skopeo inspect --raw "oci:$store:out:1" | jq '.layers | length')
	expect_eq "$n" 4 "layers"
}

say "root in a default container"
build_in root "$T/store-root"
grep -E '^(isolation|storage):' "$T/log.root" || true
check "$T/store-root"

say "non-root user in a default container"
build_in 1000:1000 "$T/store-user"
grep -E '^(isolation|storage):' "$T/log.1000:1000" || true
check "$T/store-user"
