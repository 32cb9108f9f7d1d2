#!/bin/sh
# kaniko's flags, the aliases CI scripts use (README.md, "Coming from
# kaniko"), rootless against Debian's docker-registry: --context dir://DIR and
# --dockerfile found inside it, --destination (repeatable: each a name and a
# push), --digest-file (the digest the registry serves), --tar-path (a
# docker-archive tagged with the first name), --no-push (named in the store,
# nothing sent); the result read with skopeo, umoci and podman.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
registry_start
R=$REGISTRY
build_setup
ki() { as_runner "$KILN" "$@"; }
O=$T/o
mkdir -p "$O"
chown "$KILN_TEST_USER": "$O" 2>/dev/null || true

c=$(ctx app)
mkdir -p "$c/ci"
echo "from the context" >"$c/f"
cat >"$c/ci/Dockerfile" <<'DF'
FROM busybox:1
COPY f /f
RUN echo built >/b
CMD ["cat", "/b"]
DF

say "--context dir://, --dockerfile in the context, two --destination, --digest-file, --tar-path"
# the Dockerfile path is relative to the context, not to the current directory ($T)
kb --context "dir://$c" --dockerfile ci/Dockerfile --destination "$R/k/app:1" \
	--destination "$R/k/app:extra" --digest-file "$O/digest" --tar-path "$O/app.tar" \
	--tls-verify=false
d=$(cat "$O/digest")
expect_eq "$(wc -c <"$O/digest")" 71 "--digest-file: sha256:HEX, no newline"
for tag in 1 extra; do
	expect_eq "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/k/app:$tag")" \
		"$d" "the digest the registry serves for k/app:$tag"
done
expect_eq "$(skopeo inspect --raw "oci:$KILN_ROOT:$R/k/app:1" | sha256sum | cut -d' ' -f1)" \
	"${d#sha256:}" "the store's manifest digest"
skopeo copy -q --src-tls-verify=false "docker://$R/k/app:1" "oci:$T/pulled:app"
umoci unpack --image "$T/pulled:app" "$T/u" >/dev/null
expect_eq "$(cat "$T/u/rootfs/f")" "from the context" "COPY from --context"
expect_eq "$(cat "$T/u/rootfs/b")" "built" "RUN"
out=$(as_builder podman --runtime runc run -q --rm --network host --tls-verify=false \
	"$R/k/app:extra" 2>&1) || fail "podman run: $out"
expect_eq "$(printf '%s\n' "$out" | grep -v '^time=.* level=warning')" built "podman run k/app:extra"

# --tar-path: docker-archive, the first name as its tag, the same image
expect_eq "$(tar -xOf "$O/app.tar" manifest.json | jq -r '.[0].RepoTags | join(",")')" \
	"$R/k/app:1" "--tar-path: RepoTags"
expect_eq "$(skopeo inspect --raw --config "docker-archive:$O/app.tar" | sha256sum | cut -d' ' -f1)" \
	"$(skopeo inspect --raw --config "oci:$KILN_ROOT:$R/k/app:1" | sha256sum | cut -d' ' -f1)" \
	"--tar-path: the config"
out=$(as_builder podman --runtime runc run -q --rm --network none "docker-archive:$O/app.tar" \
	cat /f 2>&1) || fail "podman run the tar: $out"
expect_eq "$(printf '%s\n' "$out" | grep -v '^time=.* level=warning')" "from the context" \
	"podman run docker-archive"

say "--no-push: named in the store, nothing sent (also not for --push)"
echo "second" >"$c/f"
kb --context "$c" --dockerfile ci/Dockerfile --destination "$R/k/nopush:1" --no-push --push \
	--digest-file "$O/digest2"
ki images --format '{{.Repository}}:{{.Tag}}' | grep -qxF "$R/k/nopush:1" ||
	fail "--no-push: not named in the store: $(ki images)"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://$R/v2/k/nopush/tags/list")" 404 \
	"the registry has no k/nopush"
expect_eq "$(skopeo inspect --raw "oci:$KILN_ROOT:$R/k/nopush:1" | sha256sum | cut -d' ' -f1)" \
	"$(sed 's/^sha256://' "$O/digest2")" "--digest-file with --no-push: the store's digest"

say "what does not map is refused before anything is built"
expect_fail 2 "--context: expected a directory (DIR or dir://DIR), got 'git://example.com/r.git'; fetch other contexts first" \
	ki build --context git://example.com/r.git
expect_fail 2 "build: --context and a context directory both given" ki build --context "$c" "$c"
expect_fail 2 "build: --tar-path and --output both name an output" \
	ki build --tar-path "$O/x.tar" -o "type=oci,dest=$O/x" "$c"
expect_fail 2 "--destination: " ki build --destination 'Bad Name' "$c"
[ ! -e "$O/x.tar" ] && [ ! -e "$O/x" ] || fail "an output was written by a refused build"
expect_fail 1 "ci/Missing" ki build --context "$c" --dockerfile ci/Missing
