#!/bin/sh
# kiln build's docker/buildx outputs, rootless: --iidfile (the image ID, no
# newline), --metadata-file (buildx's keys), -o type=local (the final tree, the
# caller's files, equal to umoci unpack of the saved image), type=tar (equal
# to umoci's tree, owners included), type=oci|docker archives, and '-' as the
# context (a Dockerfile or a tar on stdin).
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"

build_setup
ki() { as_runner "$KILN" "$@"; }
c=$(ctx app)
echo hello >"$c/f"
printf '#!/bin/sh\necho tool\n' >"$c/tool"
chmod 0755 "$c/tool"
cat >"$c/Dockerfile" <<'DF'
FROM busybox:1
COPY f /f
COPY --chmod=0750 tool /usr/local/bin/tool
RUN rm /bin/ls && mkdir -p /out/sub && echo data >/out/sub/d && chmod 0600 /out/sub/d && \
    ln -s sub/d /out/link && chown 1:2 /out/sub && rm -rf /home && mkdir /home && touch /home/new
RUN chmod 4755 /usr/local/bin/tool && mkdir -p /etc && rm -f /etc/group
DF
uid=$(as_runner id -u)
T2=$T/o
mkdir -p "$T2"
chown "$KILN_TEST_USER": "$T2" 2>/dev/null || true

say "--iidfile, --metadata-file, -o type=local"
kb --iidfile "$T2/iid" --metadata-file "$T2/meta.json" -o "type=local,dest=$T2/root" -t app:1 "$c"
expect_eq "$(cat "$T2/iid")" "$(ki images --no-trunc -q app:1)" "--iidfile is the image ID"
expect_eq "$(wc -c <"$T2/iid")" 71 "--iidfile: no newline"
expect_eq "$(cat "$T2/iid")" "$(head -n1 "$T/out")" "--iidfile is what build prints"
expect_eq "$(jq -r '."containerimage.digest"' "$T2/meta.json")" "$(ki inspect app:1 | jq -r .Digest)" "containerimage.digest"
expect_eq "$(jq -r '."containerimage.config.digest"' "$T2/meta.json")" "$(cat "$T2/iid")" "containerimage.config.digest"
expect_eq "$(jq -r '."image.name"' "$T2/meta.json")" "docker.io/library/app:1" "image.name"
expect_eq "$(jq -r '."containerimage.descriptor".digest' "$T2/meta.json")" "$(ki inspect app:1 | jq -r .Digest)" "descriptor"

say "the local tree is umoci's, with the caller's files"
ki save --format oci-layout -o "$T2/layout" app:1
as_runner umoci unpack --rootless --image "$T2/layout:app:1" "$T2/bundle" >/dev/null 2>&1 || fail "umoci unpack failed"
list() { (cd "$1" && find . -printf '%p %y %m %s %l\n' | LC_ALL=C sort); }
list "$T2/root" >"$T2/local.list"
list "$T2/bundle/rootfs" >"$T2/umoci.list"
diff -u "$T2/umoci.list" "$T2/local.list" || fail "-o type=local differs from umoci unpack"
diff -r --no-dereference "$T2/bundle/rootfs" "$T2/root" >/dev/null || fail "contents differ"
[ ! -e "$T2/root/bin/ls" ] || fail "a deleted file came back"
[ ! -e "$T2/root/etc/group" ] || fail "a deleted file came back"
expect_eq "$(stat -c %a "$T2/root/usr/local/bin/tool")" 4755 "mode kept"
expect_eq "$(stat -c %a "$T2/root/out/sub/d")" 600 "mode kept"
expect_eq "$(stat -c %a "$T2/root")" 755 "the root's mode"
expect_eq "$(find "$T2/root" ! -user "$uid" | wc -l)" 0 "every file is the caller's"

say "-o type=tar is the same tree, with the image's owners"
kb -o "type=tar,dest=$T2/root.tar" "$c"
need_root
mkdir "$T2/tar" "$T2/ref"
tar -C "$T2/tar" --numeric-owner -xpf "$T2/root.tar"
umoci unpack --image "$T2/layout:app:1" "$T2/bundle-root" >/dev/null 2>&1 || fail "umoci unpack (root) failed"
listo() { (cd "$1" && find . -printf '%p %y %m %U:%G %s %l\n' | LC_ALL=C sort); }
listo "$T2/bundle-root/rootfs" >"$T2/umoci-root.list"
listo "$T2/tar" >"$T2/tar.list"
diff -u "$T2/umoci-root.list" "$T2/tar.list" || fail "-o type=tar differs from umoci unpack"
diff -r --no-dereference "$T2/bundle-root/rootfs" "$T2/tar" >/dev/null || fail "tar contents differ"
expect_eq "$(stat -c %u:%g "$T2/tar/out/sub")" 1:2 "owner kept in the tar"

say "-o type=oci and type=docker: archives of the image"
kb -o "type=oci,dest=$T2/img.oci" "$c"
expect_eq "$(skopeo inspect --raw "oci-archive:$T2/img.oci" | sha256sum | cut -c1-64)" \
	"$(jq -r '."containerimage.digest"' "$T2/meta.json" | cut -c8-)" "oci archive manifest"
kb -o "type=docker,dest=$T2/img.docker" "$c"
expect_eq "sha256:$(skopeo inspect --config --raw "docker-archive:$T2/img.docker" | sha256sum | cut -c1-64)" \
	"$(cat "$T2/iid")" "docker archive config"
kb -o "$T2/short" "$c"
list "$T2/short" | diff -q - "$T2/local.list" >/dev/null || fail "-o DIR is type=local"

say "bad outputs: usage errors, and a non-empty directory is left alone"
expect_fail 2 "dest= is required" ki build -o type=local "$c"
expect_fail 2 "type: expected local, tar, oci, docker or image, got 'zip'" ki build -o type=zip,dest=x "$c"
expect_fail 2 "unknown key 'compression'" ki build -o type=tar,dest=x,compression=gzip "$c"
mkdir -p "$T2/full"
echo keep >"$T2/full/mine"
chown -R "$KILN_TEST_USER": "$T2/full"
kb_fail -o "type=local,dest=$T2/full" "$c"
expect_contains "$(cat "$T/log")" "directory '$T2/full' is not empty"
expect_eq "$(ls "$T2/full")" mine "the directory is untouched"
expect_eq "$(ls -a "$T2" | grep -c 'kiln-')" 0 "no temporary directory left"

say "'-' as the context: a Dockerfile, or a tar (also gzipped), on stdin"
id=$(printf 'FROM busybox:1\nRUN echo from-stdin >/hi\n' | ki build -q -t stdin-df -)
expect_eq "$(ki inspect stdin-df | jq -r .Id)" "$id" "Dockerfile on stdin"
expect_eq "$(ki history --no-trunc --format '{{.CreatedBy}}' stdin-df | head -n1 | grep -c 'from-stdin')" 1 "its RUN step"
id_dir=$(cat "$T2/iid")
id_tar=$(tar -C "$c" -cf - . | ki build -q -)
expect_eq "$id_tar" "$id_dir" "a tar context gives the image of the directory"
id_tgz=$(tar -C "$c" -czf - . | ki build -q -)
expect_eq "$id_tgz" "$id_dir" "a gzipped tar context"
expect_fail 2 "'-' cannot be both the context and the Dockerfile" ki build -f - - </dev/null

say "--check and --call=check: kiln check's report, and nothing built"
cc=$(ctx chk)
printf 'FROM busybox:1\nrun echo hi\n' >"$cc/Dockerfile"
printf 'FROM busybox:1\nRUNN echo hi\n' >"$cc/bad.Dockerfile"
own_ctx
before=$(ki images -q --no-trunc | sort)
expect_eq "$(ki build --check "$cc" 2>&1)" "$(ki check "$cc" 2>&1)" "--check is kiln check"
expect_contains "$(ki build --call=check "$cc" 2>&1)" "[ConsistentInstructionCasing]"
expect_fail 1 "has 1 error and 0 warnings" ki build --check -f "$cc/bad.Dockerfile" "$cc"
expect_fail 2 "--call: expected build or check, got 'outline'" ki build --call=outline "$cc"
expect_eq "$(ki images -q --no-trunc | sort)" "$before" "--check builds nothing"

say "--annotation: the manifest's annotations"
kb --annotation org.opencontainers.image.source=https://example.org/app --annotation manifest:team=core -t ann:1 "$c"
expect_eq "$(skopeo inspect --raw "oci:$KILN_ROOT:ann:1" | jq -c .annotations)" \
	'{"org.opencontainers.image.source":"https://example.org/app","team":"core"}' "manifest annotations"
expect_eq "$(ki inspect ann:1 | jq -r .Id)" "$(cat "$T2/iid")" "the same image ID: annotations are not in the config"
expect_fail 2 "--annotation: expected KEY=VALUE, got 'novalue'" ki build --annotation novalue "$c"
