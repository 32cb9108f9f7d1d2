#!/bin/sh
# RUN for a foreign architecture, rootless: an arm64 stage's RUN runs through
# binfmt_misc and qemu-user-static (registered with the F flag, so the
# sandbox, whose root has no qemu, can start it) and sees aarch64; podman
# runs the arm64 image of the index under the same emulation. For an
# architecture with no handler, the step fails before it starts, naming the
# architecture and the fix, and nothing is named.
. "$(dirname "$0")/lib.sh"
# the build platform is amd64 here: the arm64 side is the foreign one
[ "$(uname -m)" = x86_64 ] || skip "written for an x86_64 build machine"
need_cmd skopeo jq umoci podman runc
amd=$(busybox_rootfs_tar)
arm=$(busybox_arm64_rootfs_tar)
B=/proc/sys/fs/binfmt_misc
AARCH64_MAGIC=7f454c460201010000000000000000000200b700

# handler_ok NAME MAGIC: binfmt_misc has an enabled handler NAME for MAGIC, with F
handler_ok() {
	[ -f "$B/$1" ] && grep -qx enabled "$B/$1" && grep -q "^flags: .*F" "$B/$1" &&
		grep -q "^magic $2" "$B/$1"
}
if ! handler_ok qemu-aarch64 $AARCH64_MAGIC && [ "$(id -u)" = 0 ]; then
	[ -e $B/status ] || mount -t binfmt_misc binfmt_misc $B 2>/dev/null || true
	update-binfmts --enable qemu-aarch64 2>/dev/null || true
fi
handler_ok qemu-aarch64 $AARCH64_MAGIC ||
	skip "no binfmt_misc handler for aarch64 with the F flag (apt-get install qemu-user-static binfmt-support)"

kb() { as_builder env KILN_ROOT="$T/store" "$KILN" "$@"; }
mkctx() {
	mkdir -p "$T/$1"
	cat >"$T/$1/Dockerfile"
	chown -R "$KILN_TEST_USER": "$T/$1" 2>/dev/null || true
}
kb import "$amd" busybox-amd64:1 >/dev/null
kb import --platform linux/arm64 "$arm" busybox-arm64:1 >/dev/null

# ---- an emulated RUN: the arm64 pass's RUN is aarch64 code under qemu ----
mkctx emu <<'EOF'
ARG TARGETARCH
FROM busybox-${TARGETARCH}:1
RUN uname -m >/arch && busybox sha256sum /bin/busybox | cut -d' ' -f1 >/self
EOF
kb build --progress=plain --platform linux/amd64,linux/arm64 -t emu:1 "$T/emu" >"$T/id" 2>"$T/log" ||
	fail "build: $(cat "$T/log")"
for a in amd64:x86_64 arm64:aarch64; do
	rm -rf "$T/x" "$T/u"
	skopeo copy -q --override-arch "${a%:*}" "oci:$T/store:emu:1" "oci:$T/x:img"
	umoci unpack --image "$T/x:img" "$T/u" >/dev/null || fail "umoci unpack (${a%:*})"
	expect_eq "$(cat "$T/u/rootfs/arch")" "${a#*:}" "uname -m of the ${a%:*} RUN"
	expect_eq "$(cat "$T/u/rootfs/self")" "$(sha256sum "$T/u/rootfs/bin/busybox" | cut -d' ' -f1)" \
		"the ${a%:*} RUN read its own busybox"
done
# podman runs the arm64 manifest of the index through the same handler
out=$(as_builder podman --runtime runc run -q --rm --network none --platform linux/arm64 \
	"oci:$T/store:emu:1" uname -m 2>"$T/podman.err") || fail "podman run: $(cat "$T/podman.err")"
expect_eq "$out" aarch64 "podman run --platform linux/arm64"

# ---- no handler: the step fails before it starts, naming the arch and the fix ----
none=
for q in s390x:s390x riscv64:riscv64 ppc64le:ppc64le; do
	[ -e "$B/qemu-${q#*:}" ] || { none=$q; break; }
done
[ -n "$none" ] || skip "every candidate architecture has a binfmt_misc handler here"
arch=${none%:*}
mkctx noemu <<'EOF'
FROM busybox-amd64:1
RUN echo ran >/ran
EOF
expect_fail 1 "RUN for linux/$arch needs emulation and no binfmt_misc handler for $arch (${none#*:}) binaries is registered (apt-get install qemu-user-static binfmt-support)" \
	kb build --progress=plain --platform "linux/$arch" -t noemu:1 "$T/noemu"
grep -q "RUN echo ran" "$T/.err" || fail "the error does not name the step: $(cat "$T/.err")"
kb images --format '{{.Repository}}' | grep -qx noemu && fail "a failed build named 'noemu'"
# a COPY-only build for that platform needs no emulation
mkctx copyonly <<'EOF'
FROM busybox-amd64:1
COPY Dockerfile /Dockerfile
EOF
kb build -q --platform "linux/$arch" -t copyonly:1 "$T/copyonly" >/dev/null 2>"$T/log3" ||
	fail "COPY-only build for $arch: $(cat "$T/log3")"
expect_eq "$(skopeo inspect --config --raw "oci:$T/store:copyonly:1" | jq -r .architecture)" "$arch" \
	"a single --platform gives that platform's config"
expect_eq "$(skopeo inspect --raw "oci:$T/store:copyonly:1" | jq -r .mediaType)" \
	"application/vnd.oci.image.manifest.v1+json" "a single --platform gives a plain manifest"
grep -q "image 'busybox-amd64:1' is for linux/amd64, not linux/$arch" "$T/log3" ||
	fail "no warning for a base of another platform: $(cat "$T/log3")"
exit 0
