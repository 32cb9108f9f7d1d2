#!/bin/sh
# The image of kiln (contrib/image/Dockerfile), built by kiln on a Debian base
# made by mmdebstrap, then run as a CI job would run it: root in a default
# podman container (default capabilities and seccomp, no namespaces to make),
# where it builds a busybox Dockerfile with a RUN that adds a user, chowns to
# it and deletes a base file, a COPY and a multi-stage copy, in chroot
# isolation, and saves it; the result is checked with podman run. Needs
# deb.debian.org (the image's apt-get steps), as t0606.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd podman runc
. "$KILN_SRC/tests/lib-container.sh"

debian_base_tar
export KILN_ROOT=$T/store
kiln() { "$KILN" "$@"; }

say "kiln builds its own image from the repository"
kiln import "$DEBIAN_BASE" debian:bookworm >/dev/null
kiln build --progress=plain -f "$KILN_SRC/contrib/image/Dockerfile" -t kiln:latest \
	"$KILN_SRC" >"$T/build.log" 2>&1 || fail "kiln image build: $(tail -20 "$T/build.log")"
kiln save -o "$T/kiln.tar" kiln:latest
ctr_podman pull -q "oci-archive:$T/kiln.tar" >/dev/null
entry=$(ctr_podman image inspect --format '{{json .Config.Entrypoint}}' localhost/kiln:latest 2>/dev/null ||
	ctr_podman image inspect --format '{{json .Config.Entrypoint}}' kiln:latest)
expect_eq "$entry" '["kiln"]' "the image's entrypoint"

# podman's defaults but the open-files and process limits, which root here cannot raise (as lib-container.sh)
jobrun() {
	ctr_podman --runtime runc run --rm --network none --ulimit nofile=1024:1024 \
		--ulimit nproc=1024:1024 "$@"
}

say "the image, as a CI job's container (root, podman's defaults), builds a Dockerfile"
w=$T/job
mkdir -p "$w/app"
cp "$(busybox_rootfs_tar)" "$w/bb.tar"
echo "from the context" >"$w/app/hello.txt"
cat >"$w/app/Dockerfile" <<'DF'
FROM busybox:1 AS build
RUN echo built >/artefact
FROM busybox:1
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >>/etc/passwd && \
    echo 'app:x:1000:' >>/etc/group && mkdir -p /home/app && chown 1000:1000 /home/app && \
    echo owned >/home/app/f && chown 1000:1000 /home/app/f && rm /bin/vi
COPY hello.txt /hello.txt
COPY --from=build /artefact /artefact
CMD ["cat", "/hello.txt", "/artefact", "/home/app/f"]
DF
mkdir -p "$T/ctr-store"
jobrun -v "$w:/workspace" -v "$T/ctr-store:/var/lib/kiln" \
	localhost/kiln:latest import /workspace/bb.tar busybox:1 >"$T/ctr.log" 2>&1 ||
	fail "kiln import in the container: $(cat "$T/ctr.log")"
jobrun -v "$w:/workspace" -v "$T/ctr-store:/var/lib/kiln" \
	localhost/kiln:latest build --progress=plain -t app:1 /workspace/app >"$T/ctr.log" 2>&1 ||
	fail "kiln build in the container: $(tail -20 "$T/ctr.log")"
grep -q "^# isolation: chroot" "$T/ctr.log" || fail "isolation not said or not chroot: $(head -5 "$T/ctr.log")"
jobrun -v "$w:/workspace" -v "$T/ctr-store:/var/lib/kiln" \
	localhost/kiln:latest save -o /workspace/app.tar app:1 >"$T/ctr.log" 2>&1 ||
	fail "kiln save in the container: $(cat "$T/ctr.log")"

say "the image built in the container runs"
out=$(jobrun "oci-archive:$w/app.tar" 2>"$T/run.err") || fail "podman run: $(cat "$T/run.err")"
expect_eq "$out" "from the context
built
owned" "podman run of the image built in the container"
owner=$(jobrun "oci-archive:$w/app.tar" stat -c %u:%g /home/app/f 2>"$T/run.err")
expect_eq "$owner" "1000:1000" "the RUN's chown"
jobrun "oci-archive:$w/app.tar" test -e /bin/vi 2>/dev/null &&
	fail "a base file the RUN deleted is still there"
say "ok"
