#!/bin/sh
# COPY and ADD from the context, rootless, with Docker's semantics: trailing-slash
# rules, directories copy their contents, wildcards, several sources need a
# directory, --chown with names from the image's /etc/passwd and /etc/group,
# --chmod, .dockerignore with ! exceptions, ADD unpacking local archives, context
# symlinks copied as symlinks, COPY <<EOF, and nothing read from outside the context.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
need_cmd tar gzip bzip2 xz zstd
build_setup

# a base with a user and a group only it knows
b=$(ctx base)
cat >"$b/Dockerfile" <<'EOF'
FROM busybox:1
RUN echo 'app:x:1234:2345::/home/app:/bin/sh' >> /etc/passwd && \
    echo 'appgrp:x:2345:' >> /etc/group && echo 'other:x:3456:' >> /etc/group
EOF
kb -t base:1 "$b"

c=$(ctx copy)
cd "$c"
echo one >one.txt
echo two >two.txt
echo log >debug.log
echo keep >keep.log
mkdir -p dir/sub tree/a
echo d1 >dir/d1
echo s1 >dir/sub/s1
echo ta >tree/a/f
ln -s one.txt link-to-one
ln -s /etc/shadow shadow-link
ln -s ../one.txt dir/link-up
ln -s /etc/shadow dir/shadow
mkdir -p arch/top && echo inside >arch/top/file && ln -s file arch/top/link
tar -C arch -czf a.tar.gz top
tar -C arch -cjf a.tar.bz2 top
tar -C arch -cJf a.tar.xz top
tar -C arch --zstd -cf a.tar.zst top
printf '*.log\n!keep.log\nignored-dir\n' >.dockerignore
mkdir ignored-dir && echo no >ignored-dir/f
echo "kiln-outside-secret" >"$T/c/secret"
cat >Dockerfile <<'EOF'
FROM base:1
COPY one.txt /file-no-slash
COPY one.txt /newdir/
COPY one.txt two.txt /multi/
COPY dir /dircontents
COPY dir/ /dircontents2/
COPY t*.txt /wild/
COPY *.log /logs/
COPY --chown=app:appgrp one.txt /owned-names
COPY --chown=1234 one.txt /owned-uid
COPY --chown=app:other one.txt /owned-other
COPY --chmod=0741 two.txt /moded
COPY --chown=app --chmod=600 dir /owned-dir/
COPY link-to-one /links/
ADD a.tar.gz /gz/
ADD a.tar.bz2 /bz2/
ADD a.tar.xz /xz/
ADD a.tar.zst /zst/
COPY a.tar.gz /copied-not-unpacked.tar.gz
ENV WHO=kiln
COPY <<EOT /heredoc.txt
hello $WHO "quoted" 'single' \$WHO $UNSET-free
EOT
COPY <<'EOT' /heredoc-literal.txt
hello $WHO "quoted"
EOT
COPY <<EOT1 <<EOT2 /hd/
first
EOT1
second
EOT2
EOF
cd "$T"
kb -t copy:1 "$c"

r=$(unpack copy:1)
expect_eq "$(cat "$r/file-no-slash")" one "COPY to a path without a slash makes a file"
expect_eq "$(cat "$r/newdir/one.txt")" one "COPY to dir/ creates the directory"
expect_eq "$(cat "$r/multi/one.txt")$(cat "$r/multi/two.txt")" onetwo "several sources"
expect_eq "$(cat "$r/dircontents/d1")" d1 "a directory copies its contents"
expect_eq "$(cat "$r/dircontents/sub/s1")" s1 "a directory copies its contents, recursively"
[ ! -e "$r/dircontents/dir" ] || fail "COPY dir copied the directory itself"
expect_eq "$(cat "$r/dircontents2/sub/s1")" s1 "COPY dir/ dest/"
expect_eq "$(ls "$r/wild" | tr '\n' ' ')" "two.txt " "wildcard t*.txt"
expect_eq "$(ls "$r/logs" | tr '\n' ' ')" "keep.log " ".dockerignore *.log with !keep.log"
expect_eq "$(stat -c %u:%g "$r/owned-names")" 1234:2345 "--chown=app:appgrp"
expect_eq "$(stat -c %u:%g "$r/owned-uid")" 1234:1234 "--chown=1234 (gid = uid, like Docker)"
expect_eq "$(stat -c %u:%g "$r/owned-other")" 1234:3456 "--chown=app:other"
expect_eq "$(stat -c %a "$r/moded")" 741 "--chmod=0741"
expect_eq "$(stat -c %u:%g:%a "$r/owned-dir/d1")" 1234:2345:600 "--chown=app --chmod=600 on a tree"
expect_eq "$(stat -c %u:%g "$r/owned-dir/sub")" 1234:2345 "--chown on a subdirectory"
# a named source that is a symlink is followed inside the context (as BuildKit);
# symlinks under a copied directory are copied as symlinks
[ ! -L "$r/links/link-to-one" ] || fail "a named symlink source was not followed"
expect_eq "$(cat "$r/links/link-to-one")" one "a named symlink source"
expect_eq "$(readlink "$r/dircontents/link-up")" ../one.txt "a context symlink is copied as a symlink"
expect_eq "$(readlink "$r/dircontents/shadow")" /etc/shadow "a symlink to /etc/shadow stays a link"
for z in gz bz2 xz zst; do
	expect_eq "$(cat "$r/$z/top/file")" inside "ADD a.tar.$z unpacks"
	expect_eq "$(readlink "$r/$z/top/link")" file "ADD a.tar.$z keeps symlinks"
done
[ -f "$r/copied-not-unpacked.tar.gz" ] || fail "COPY unpacked an archive"
# unquoted: variables expanded, escapes processed, quotes kept (BuildKit's ExpandRaw)
expect_eq "$(cat "$r/heredoc.txt")" "hello kiln \"quoted\" 'single' \$WHO -free" "COPY <<EOT"
expect_eq "$(cat "$r/heredoc-literal.txt")" 'hello $WHO "quoted"' "COPY <<'EOT'"
expect_eq "$(cat "$r/hd/EOT1")$(cat "$r/hd/EOT2")" firstsecond "COPY of two heredocs"
[ ! -e "$r/ignored-dir" ] || fail "ignored-dir"
! grep -rq kiln-outside-secret "$r" 2>/dev/null || fail "a file from outside the context got in"

# podman sees the owners the image's names give
out=$(prun copy:1 stat -c %u:%g /owned-names)
expect_eq "$out" "1234:2345" "podman: owner of /owned-names"

# .dockerignore: a pattern excludes a whole directory from COPY .; a named file
# that is ignored is "not found"
cat >"$c/Dockerfile" <<'EOF'
FROM busybox:1
COPY . /ctx/
EOF
kb -t dot:1 "$c"
r=$(unpack dot:1)
[ ! -e "$r/ctx/ignored-dir" ] || fail "COPY . copied an ignored directory"
[ ! -e "$r/ctx/debug.log" ] || fail "COPY . copied an ignored file"
[ -e "$r/ctx/keep.log" ] || fail "COPY . left out a !-excepted file"
[ -e "$r/ctx/Dockerfile" ] || fail "COPY . left out the Dockerfile"

# Dockerfile.dockerignore next to the Dockerfile wins over .dockerignore
mkdir -p "$c/sub"
cat >"$c/sub/Dockerfile" <<'EOF'
FROM busybox:1
COPY . /ctx/
EOF
printf 'one.txt\n' >"$c/sub/Dockerfile.dockerignore"
kb -t dot:2 -f "$c/sub/Dockerfile" "$c"
r=$(unpack dot:2)
[ ! -e "$r/ctx/one.txt" ] || fail "Dockerfile.dockerignore did not exclude one.txt"
[ -e "$r/ctx/debug.log" ] || fail "Dockerfile.dockerignore did not replace .dockerignore"

# the errors leave the store as it was
store_state >"$T/before"
bad() { # bad DOCKERFILE-LINE STDERR-SUBSTRING
	printf 'FROM busybox:1\nRUN true\n%s\n' "$1" >"$c/Dockerfile"
	kb_fail -t bad:1 "$c"
	grep -qF -- "$2" "$T/log" || fail "'$1': stderr lacks '$2': $(cat "$T/log")"
	store_state >"$T/after"
	cmp -s "$T/before" "$T/after" || fail "'$1' changed the store: $(diff "$T/before" "$T/after")"
}
bad "COPY missing.txt /x" "missing.txt"
bad "COPY ../secret /x" "secret"
bad "COPY shadow-link /x" "shadow-link"
bad "COPY debug.log /x" "debug.log"
as_runner "$KILN" fsck >"$T/fsck" 2>&1 || fail "fsck after failed builds: $(cat "$T/fsck")"

# several sources to a path that is not a directory: no error, each is copied there
# in turn and the last stays (BuildKit; the classic builder refused it)
printf 'FROM busybox:1\nCOPY one.txt two.txt /not-a-dir\n' >"$c/Dockerfile"
kb -t several:1 "$c"
expect_eq "$(cat "$(unpack several:1)/not-a-dir")" two "COPY one.txt two.txt /not-a-dir"

# ".." is clamped at the context root, as BuildKit: ../secret is the context's secret
echo "kiln-inside-secret" >"$c/secret"
printf 'FROM busybox:1\nCOPY ../secret ../../secret2 /\n' >"$c/Dockerfile"
cp "$c/secret" "$c/secret2"
kb -t clamp:1 "$c"
r=$(unpack clamp:1)
expect_eq "$(cat "$r/secret" "$r/secret2")" "kiln-inside-secret
kiln-inside-secret" "COPY ../secret reads the context's secret"

# COPY --from a stage or an image keeps the owners (BuildKit, moby#38599), unless
# --chown; the owners are part of the cache key (not so in moby/buildkit#3291)
m=$(ctx multi)
multi() {
	cat >"$m/Dockerfile" <<EOF
FROM busybox:1 AS one
RUN mkdir -p /out/d && echo x > /out/d/x && chown -R $1 /out && chmod 0640 /out/d/x
FROM busybox:1
COPY --from=one /out /copied
COPY --from=one --chown=7:8 /out/d/x /chowned
COPY --from=busybox:1 /bin/busybox /bb
EOF
	kb -t multi:1 "$m"
	unpack multi:1
}
r=$(multi 1234:2345)
expect_eq "$(stat -c %u:%g:%a "$r/copied/d" "$r/copied/d/x")" "1234:2345:755
1234:2345:640" "COPY --from keeps owners and modes"
expect_eq "$(stat -c %u:%g "$r/chowned")" 7:8 "COPY --from --chown"
expect_eq "$(stat -c %u:%g "$r/bb")" 0:0 "COPY --from an image"
r=$(multi 4321:4321)
expect_eq "$(stat -c %u:%g "$r/copied/d/x")" 4321:4321 "COPY --from after the source's owner changed"
