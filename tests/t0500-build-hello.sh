#!/bin/sh
# `kiln build` end to end, rootless: the README's example builds, and the image
# it makes is read by umoci and run by podman with the config it declares.
. "$(dirname "$0")/lib.sh"
need_cmd umoci podman runc skopeo

tar=$(busybox_rootfs_tar)
export KILN_ROOT="$T/store"
as_builder "$KILN" import "$tar" busybox:1 >/dev/null

cp -r "$KILN_SRC/examples/hello" "$T/hello"
chown -R "$KILN_TEST_USER": "$T/hello" 2>/dev/null || true
as_builder env KILN_ROOT="$KILN_ROOT" "$KILN" build --progress=plain -t hello:1 "$T/hello" \
	>"$T/id" 2>"$T/log" || fail "build failed: $(cat "$T/log")"
id=$(cat "$T/id")
case "$id" in sha256:????????????????????????????????????????????????????????????????) ;;
*) fail "build did not print an image id on stdout: '$id'" ;; esac
grep -q '^#[0-9]* \[.*RUN chmod' "$T/log" || fail "plain progress lacks the RUN step: $(cat "$T/log")"

# the store is an OCI layout skopeo reads as it is
skopeo inspect --config "oci:$KILN_ROOT:hello:1" >"$T/config.json"
expect_eq "$(jq -r '.config.User' "$T/config.json")" nobody "User"
expect_eq "$(jq -r '.config.WorkingDir' "$T/config.json")" /app "WorkingDir"
expect_eq "$(jq -c '.config.Cmd' "$T/config.json")" '["/app/bin/hello"]' "Cmd"
expect_eq "$(jq -c '.config.ExposedPorts' "$T/config.json")" '{"8080/tcp":{}}' "ExposedPorts"
expect_eq "$(jq -r '.config.Labels["org.opencontainers.image.title"]' "$T/config.json")" hello "label"
jq -r '.config.Env[]' "$T/config.json" | grep -qx 'GREETING=hello from kiln' || fail "Env lacks GREETING"
expect_eq "sha256:$(skopeo inspect --raw "oci:$KILN_ROOT:hello:1" | jq -r .config.digest | cut -d: -f2)" "$id" "image id"

# umoci sees the files with their modes and owners
umoci unpack --image "$KILN_ROOT:hello:1" "$T/bundle" >/dev/null
r=$T/bundle/rootfs
[ -x "$r/app/bin/hello" ] || fail "/app/bin/hello is not executable"
expect_eq "$(stat -c %u "$r/data/build-info")" 65534 "owner of /data/build-info"
expect_eq "$(cat "$r/data/build-info")" "built by 0 on Linux" "RUN output file"
[ -x "$r/bin/busybox" ] || fail "the base layer is missing"
# nothing the sandbox mounts leaks into the image
for f in etc/hosts etc/resolv.conf; do
	[ ! -e "$r/$f" ] || fail "/$f leaked into the image"
done

# podman runs it, rootless, with the image's user, workdir and env
out=$(as_builder podman --runtime runc run --rm --network none "oci:$KILN_ROOT:hello:1" 2>&1) ||
	fail "podman run failed: $out"
expect_contains "$out" "hello from kiln" "podman output"
expect_contains "$out" "running as nobody in /app" "podman output"
expect_contains "$out" "built by 0 on Linux" "podman output"

# without KILN_ROOT a rootless build uses the user's own store
# ($XDG_DATA_HOME/kiln), even though it runs as root of a user namespace
as_builder env -u KILN_ROOT "$KILN" import "$tar" busybox:1 >/dev/null
as_builder env -u KILN_ROOT "$KILN" build -q -t hello:2 "$T/hello" >/dev/null 2>"$T/log2" ||
	fail "build into the default store failed: $(cat "$T/log2")"
[ -f "$T/home/.local/share/kiln/index.json" ] || fail "the default store is not \$XDG_DATA_HOME/kiln"
as_builder env -u KILN_ROOT "$KILN" images --format "{{.Repository}}:{{.Tag}} " | grep -q '^hello:2 ' || fail "hello:2 is not in the user's default store"

# the README's way to run it: kiln save, then podman from the oci-archive (podman
# refuses oci:PATH when PATH has a dot component, as the default ~/.local store does)
as_builder env KILN_ROOT="$KILN_ROOT" "$KILN" save -o "$T/hello.tar" hello:1 ||
	fail "kiln save failed"
out=$(as_builder podman --runtime runc run --rm --network none "oci-archive:$T/hello.tar" 2>&1) ||
	fail "podman run of the saved archive failed: $out"
expect_contains "$out" "hello from kiln" "podman output from the archive"
