#!/bin/sh
# kiln build --platform linux/amd64,linux/arm64, rootless: a FROM
# --platform=$BUILDPLATFORM stage runs natively with TARGET*/BUILD* ARGs, a
# stage that reads no TARGET* ARG is built once for both platforms (the step
# cache), the COPY-only final stage's base is an index pulled from the
# registry and resolved per platform; -t names an OCI index (skopeo reads it),
# each manifest's config says its platform, push sends the index and both
# manifests, pull --platform and save/load take one or all of them.
. "$(dirname "$0")/lib.sh"
# the build platform is amd64 here: the arm64 side is the foreign one
[ "$(uname -m)" = x86_64 ] || skip "written for an x86_64 build machine"
need_cmd skopeo jq umoci od
registry_start
R=$REGISTRY
amd=$(busybox_rootfs_tar)
arm=$(busybox_arm64_rootfs_tar)

kb() { as_builder env KILN_ROOT="$T/store" "$KILN" "$@"; }
kseed() { as_builder env KILN_ROOT="$T/seed" "$KILN" "$@"; }
mkctx() { # mkctx DIR: a build context with the Dockerfile read from stdin
	mkdir -p "$T/$1"
	cat >"$T/$1/Dockerfile"
	chown -R "$KILN_TEST_USER": "$T/$1" 2>/dev/null || true
}
# elf_machine FILE: the ELF e_machine of FILE (62 x86-64, 183 aarch64)
elf_machine() { od -An -t u2 -j 18 -N 2 "$1" | tr -d ' '; }
# arch_rootfs STORE IMAGE ARCH: umoci-unpack IMAGE's ARCH manifest; prints the rootfs
arch_rootfs() {
	rm -rf "$T/x-$3" "$T/u-$3"
	skopeo copy -q --override-arch "$3" "oci:$1:$2" "oci:$T/x-$3:img" ||
		fail "skopeo copy --override-arch $3 $2"
	umoci unpack --image "$T/x-$3:img" "$T/u-$3" >/dev/null || fail "umoci unpack $2 ($3)"
	echo "$T/u-$3/rootfs"
}

# ---- the bases: a two-platform index in the registry, made by kiln from two imports ----
kseed import "$amd" busybox-amd64:1 >/dev/null
kseed import --platform linux/arm64 "$arm" busybox-arm64:1 >/dev/null
expect_eq "$(skopeo inspect --config --raw "oci:$T/seed:busybox-arm64:1" | jq -c '[.architecture, .os, .variant]')" \
	'["arm64","linux",null]' "the config of an import --platform"
mkctx base <<'EOF'
ARG TARGETARCH
FROM busybox-${TARGETARCH}:1
LABEL base=multi
EOF
kseed build -q --platform linux/amd64,linux/arm64 -t base:1 "$T/base" >"$T/base.id" 2>"$T/base.log" ||
	fail "base build: $(cat "$T/base.log")"
base_idx=$(skopeo inspect --raw "oci:$T/seed:base:1")
expect_eq "$(echo "$base_idx" | jq -r .mediaType)" "application/vnd.oci.image.index.v1+json" "base media type"
expect_eq "$(cat "$T/base.id")" "sha256:$(echo "$base_idx" | jq -cj . | sha256sum | cut -d' ' -f1)" \
	"the printed ID is the index digest"
kseed push "base:1" "$R/base:1" >"$T/base.push" 2>&1 || fail "push base: $(cat "$T/base.push")"

# ---- the build: a native builder stage, a shared stage, a COPY-only final stage ----
as_builder env KILN_ROOT="$T/store" "$KILN" import "$amd" busybox:1 >/dev/null
mkctx app <<EOF
FROM --platform=\$BUILDPLATFORM busybox:1 AS builder
ARG TARGETPLATFORM
ARG TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDARCH
RUN echo "\$BUILDPLATFORM \$BUILDARCH -> \$TARGETPLATFORM \$TARGETOS \$TARGETARCH [\$TARGETVARIANT] \$(uname -m)" >/built-\$TARGETARCH

FROM --platform=\$BUILDPLATFORM busybox:1 AS shared
RUN cat /proc/sys/kernel/random/uuid >/stamp

FROM $R/base:1
ARG TARGETARCH
COPY --from=builder /built-\$TARGETARCH /built
COPY --from=shared /stamp /stamp
EOF
kb build --progress=plain --platform linux/amd64 --platform linux/arm64,linux/amd64 -t app:1 "$T/app" \
	>"$T/id" 2>"$T/log" || fail "build: $(cat "$T/log")"
idx=$(skopeo inspect --raw "oci:$T/store:app:1")
expect_eq "$(echo "$idx" | jq -r .mediaType)" "application/vnd.oci.image.index.v1+json" "media type"
expect_eq "$(echo "$idx" | jq -c '[.manifests[] | .platform]')" \
	'[{"architecture":"amd64","os":"linux"},{"architecture":"arm64","os":"linux"}]' "the index's platforms"
expect_eq "$(cat "$T/id")" "sha256:$(echo "$idx" | jq -cj . | sha256sum | cut -d' ' -f1)" "image ID"
for a in amd64 arm64; do
	c=$(skopeo inspect --override-arch $a --config --raw "oci:$T/store:app:1")
	expect_eq "$(echo "$c" | jq -c '[.architecture, .os]')" "[\"$a\",\"linux\"]" "$a config"
	expect_eq "$(echo "$c" | jq -r .config.Labels.base)" multi "$a config keeps the base's label"
done
ra=$(arch_rootfs "$T/store" app:1 amd64)
rr=$(arch_rootfs "$T/store" app:1 arm64)
expect_eq "$(cat "$ra/built")" "linux/amd64 amd64 -> linux/amd64 linux amd64 [] x86_64" "amd64 /built"
# the builder ran natively (x86_64) for the arm64 target
expect_eq "$(cat "$rr/built")" "linux/amd64 amd64 -> linux/arm64 linux arm64 [] x86_64" "arm64 /built"
# each platform's base came out of the index for that platform
expect_eq "$(elf_machine "$ra/bin/busybox")" 62 "amd64 busybox"
expect_eq "$(elf_machine "$rr/bin/busybox")" 183 "arm64 busybox"
# the stage on the build platform that reads no TARGET* ran once: the same stamp
expect_eq "$(cat "$rr/stamp")" "$(cat "$ra/stamp")" "the shared stage's output"
stamp1=$(cat "$ra/stamp")
# each step names its pass as BuildKit does: the platform, or build->target arch
expect_eq "$(grep -o '^#[0-9]* \[[^]]* shared 2/2\] RUN' "$T/log" | cut -d' ' -f2)" \
	"$(printf '[linux/amd64\n[linux/amd64->arm64')" "the shared RUN's labels"
grep -q '^#[0-9]* \[linux/arm64 3/4\] COPY --from=builder' "$T/log" || fail "no arm64 COPY label: $(cat "$T/log")"
expect_eq "$(grep -c '^#[0-9]* CACHED' "$T/log")" 1 "cached steps in the cold build: $(cat "$T/log")"
# the base index is kept, with the two manifests pulled into it
expect_eq "$(skopeo inspect --raw "oci:$T/store:$R/base:1" | jq -cj . | sha256sum | cut -d' ' -f1)" \
	"$(echo "$base_idx" | jq -cj . | sha256sum | cut -d' ' -f1)" "the pulled base index"
kb fsck >"$T/fsck" 2>&1 || fail "fsck: $(cat "$T/fsck")"

# ---- a no-op rebuild: every step cached, the same index ----
kb build --progress=plain --platform linux/amd64,linux/arm64 -t app:1 "$T/app" >"$T/id2" 2>"$T/log2" ||
	fail "rebuild: $(cat "$T/log2")"
expect_eq "$(cat "$T/id2")" "$(cat "$T/id")" "no-op rebuild's index"
grep '^#[0-9]* DONE' "$T/log2" | grep -v '^#[0-9]* DONE 0' && fail "a step ran again: $(cat "$T/log2")"
grep -q 'RUN' "$T/log2" || fail "no RUN in the rebuild's progress"

# ---- --no-cache: every step runs again, but the shared stage once for both ----
kb build --progress=plain --no-cache --platform linux/amd64,linux/arm64 -t nocache:1 "$T/app" \
	>/dev/null 2>"$T/log3" || fail "--no-cache build: $(cat "$T/log3")"
na=$(arch_rootfs "$T/store" nocache:1 amd64)
nr=$(arch_rootfs "$T/store" nocache:1 arm64)
[ "$(cat "$na/stamp")" != "$stamp1" ] || fail "--no-cache reused the earlier build's stamp"
expect_eq "$(cat "$nr/stamp")" "$(cat "$na/stamp")" "the shared stage's output with --no-cache"

# ---- kiln images, inspect ----
expect_eq "$(kb images --format '{{.Repository}}:{{.Tag}} {{.Platform}} {{.Digest}}' app:1)" \
	"app:1 linux/amd64, linux/arm64 $(cat "$T/id")" "kiln images"
expect_eq "$(kb inspect app:1 | jq -c '[.Manifests[] | [.Platform.architecture, .Config.architecture, .Stored]]')" \
	'[["amd64","amd64",true],["arm64","arm64",true]]' "kiln inspect"

# ---- push: the index and each manifest; skopeo reads them from the registry ----
kb push app:1 "$R/app:1" >"$T/push" 2>"$T/push.err" || fail "push: $(cat "$T/push.err")"
expect_eq "$(cat "$T/push")" "$(cat "$T/id")" "push prints the index digest"
ridx=$(skopeo inspect --tls-verify=false --raw "docker://$R/app:1")
expect_eq "$ridx" "$idx" "the pushed index"
for d in $(echo "$ridx" | jq -r '.manifests[].digest'); do
	a=$(echo "$ridx" | jq -r ".manifests[] | select(.digest == \"$d\") | .platform.architecture")
	expect_eq "$(skopeo inspect --tls-verify=false --config --raw "docker://$R/app@$d" | jq -r .architecture)" \
		"$a" "pushed $a manifest's config"
done
# blobs the two manifests share went up once
grep -q 'PUT /v2/app/blobs/uploads/' "$T/registry/log" || fail "no blob was uploaded"
twice=$(grep -o 'PUT /v2/app/blobs/uploads/[^ "]*' "$T/registry/log" | grep -o 'sha256[^&" ]*' | sort | uniq -d)
[ -z "$twice" ] || fail "blobs uploaded twice: $twice"

# ---- build --push and --metadata-file of an index ----
kb build -q --platform linux/amd64,linux/arm64 --metadata-file "$T/md.json" -t "$R/pushed:1" --push \
	"$T/app" >"$T/id4" 2>"$T/log4" || fail "build --push: $(cat "$T/log4")"
idx4=$(skopeo inspect --raw "oci:$T/store:$R/pushed:1")
expect_eq "$(head -n1 "$T/id4")" "sha256:$(printf '%s' "$idx4" | sha256sum | cut -d' ' -f1)" "build --push: the ID"
expect_eq "$(skopeo inspect --tls-verify=false --raw "docker://$R/pushed:1")" "$idx4" "the index build --push sent"
expect_eq "$(jq -c '."containerimage.descriptor" | [.mediaType, .digest, .size]' "$T/md.json")" \
	"[\"application/vnd.oci.image.index.v1+json\",\"$(head -n1 "$T/id4")\",$(printf '%s' "$idx4" | wc -c)]" \
	"--metadata-file's descriptor"

# ---- pull --platform into a fresh store ----
as_builder env KILN_ROOT="$T/fresh" "$KILN" pull --platform linux/arm64 "$R/app:1" app:arm >/dev/null 2>"$T/pull.err" ||
	fail "pull --platform: $(cat "$T/pull.err")"
expect_eq "$(skopeo inspect --config --raw "oci:$T/fresh:app:arm" | jq -r .architecture)" arm64 "pulled arm64 config"
expect_eq "$(skopeo inspect --raw "oci:$T/fresh:app:arm" | jq -r .mediaType)" \
	"application/vnd.oci.image.manifest.v1+json" "pull --platform stores the one manifest"

# ---- save: the whole index (oci-archive), one platform (docker-archive) ----
kb save -o "$T/app.tar" app:1
expect_eq "$(skopeo inspect --raw "oci-archive:$T/app.tar:app:1")" "$idx" "the oci-archive's index"
[ "$(tar tf "$T/app.tar" | sort | uniq -d)" = "" ] || fail "a blob twice in the archive"
expect_fail 2 "'app:1' is an image index (linux/amd64, linux/arm64) and a docker-archive holds one image: pick one with --platform" \
	kb save --format docker-archive -o "$T/d.tar" app:1
[ ! -e "$T/d.tar" ] || fail "a refused save left '$T/d.tar'"
kb save --format docker-archive --platform linux/arm64 -o "$T/d.tar" app:1
cfg=$(tar xOf "$T/d.tar" manifest.json | jq -r '.[0].Config')
expect_eq "$(tar xOf "$T/d.tar" "$cfg" | jq -r .architecture)" arm64 "docker-archive --platform"
# load of the oci-archive brings back the index with both manifests
as_builder env KILN_ROOT="$T/loaded" "$KILN" load -i "$T/app.tar" >"$T/load" || fail "load"
expect_eq "$(cat "$T/load")" "$(cat "$T/id")" "load of an index"
expect_eq "$(as_builder env KILN_ROOT="$T/loaded" "$KILN" inspect app:1 | jq -c '[.Manifests[].Stored]')" \
	'[true,true]' "both manifests loaded"

# ---- bad platforms: clear errors, exit 2, nothing built ----
expect_fail 2 "--platform: bad platform 'linux' (expected OS/ARCH[/VARIANT], e.g. linux/amd64)" \
	kb build --platform linux -t bad:1 "$T/app"
mkctx badfrom <<'EOF'
FROM --platform=$BUILDOS busybox:1
EOF
expect_fail 1 "FROM --platform: bad platform 'linux'" kb build -t bad:1 "$T/badfrom"
kb images --format '{{.Repository}}' | grep -qx bad && fail "a failed build named 'bad'"
exit 0
