# Run kiln inside a real podman container (issue 13), sourced after tests/lib.sh.
#   ctr_setup              import a minimal image: an empty root with /bin, /lib...
#                          as symlinks into /usr, which is the host's, bind-mounted
#                          read-only; /etc holds only passwd and group (root, and
#                          user 1000 "b" without subordinate ids: newuidmap fails in a
#                          default container, "write to uid_map failed")
#   ctr [--host-network] [PODMAN-OPTS] -- CMD...   run CMD in it with podman's defaults (capabilities,
#                          seccomp, masked /proc paths); $T is bind-mounted at the
#                          same path, the kiln build directory read-only
need_root
need_cmd podman runc skopeo jq

ctr_setup() {
	r=$T/ctr-root
	mkdir -p "$r/usr" "$r/etc" "$r/tmp" "$r/root" "$r/dev" "$r/proc" "$r/sys" \
		"$r/run" "$r/var/tmp" "$r/home/b"
	chmod 1777 "$r/tmp" "$r/var/tmp"
	for l in bin lib lib64 sbin; do ln -s "usr/$l" "$r/$l"; done
	printf 'root:x:0:0:root:/root:/bin/sh\nb:x:1000:1000::/home/b:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\nb:x:1000:\n' >"$r/etc/group"
	chown 1000:1000 "$r/home/b"
	tar -C "$r" -cf "$T/ctr-root.tar" .
	ctr_podman import -q "$T/ctr-root.tar" localhost/kiln-ctr:1 >/dev/null
	chmod 0755 "$T"
}

ctr_runroot_rm() { rm -rf "$CTR_RUNROOT" "$CTR_ROOT"; }
# podman wants a runroot shorter than 50 characters; its store stays out of
# $T, which the container sees: a procfs mounted in a container's rootfs
# there would be a fully visible one, and let a fresh procfs be mounted
CTR_RUNROOT=$(mktemp -d /tmp/kiln-pr.XXXXXX)
CTR_ROOT=$(mktemp -d /var/tmp/kiln-ctr.XXXXXX)
add_cleanup ctr_runroot_rm

ctr_podman() {
	podman --root "$CTR_ROOT" --runroot "$CTR_RUNROOT" --storage-driver vfs "$@"
}

ctr() {
	opts="" net=none
	if [ "$1" = --host-network ]; then
		net=host
		shift
	fi
	while [ "$1" != -- ]; do
		opts="$opts $1"
		shift
	done
	shift
	# shellcheck disable=SC2086
	ctr_podman --runtime runc run --rm --network "$net" --ulimit nofile=1024:1024 \
		--ulimit nproc=1024:1024 -v /usr:/usr:ro -v "$KILN_BUILD:$KILN_BUILD:ro" \
		-v "$T:$T" -e HOME=/tmp $opts localhost/kiln-ctr:1 "$@"
}
