#!/bin/sh
# Builds whose images must equal BuildKit's (issue 12): equal layers in a row, the
# default PATH of a base without one, ARG names expanded (BuildKit up to v0.13; see
# README "Where kiln differs"), `**` as `*` in COPY sources, a wildcard that matches
# nothing, a directory onto a symlink, and layer digests that no readdir order or
# xattr order changes. Rootless; the tmpfs part needs root (mount) and runs only as root.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
build_setup

say "equal layers: the same COPY three times, then a RUN on top"
c=$(ctx equal)
echo hello >"$c/hello"
cat >"$c/Dockerfile" <<'DF'
FROM busybox:1
COPY hello /foo
COPY hello /foo
COPY hello /foo
RUN cat /foo
COPY hello /bar
COPY hello /foo
RUN test "$(cat /foo /bar | tr '\n' ' ')" = "hello hello "
DF
kb -t equal:1 "$c"
expect_eq "$(cfg equal:1 '.rootfs.diff_ids | .[1:4] | unique | length')" 1 "three equal COPY layers"
expect_contains "$(cat "$T/out" "$T/log")" "hello" "RUN cat /foo"

say "equal layers: identical RUNs under SOURCE_DATE_EPOCH"
c=$(ctx equal-run)
cat >"$c/Dockerfile" <<'DF'
FROM busybox:1
RUN echo same >/same
RUN echo same >/same
RUN echo same >/same
RUN cat /same
DF
kb --source-date-epoch 1700000000 -t equal-run:1 "$c"
expect_eq "$(cfg equal-run:1 '.rootfs.diff_ids | .[1:4] | unique | length')" 1 "three equal RUN layers"

say "equal layers apart: the upper one stands for both, whatever lies between"
c=$(ctx equal-apart)
mkdir "$c/dir" && echo a >"$c/dir/a"
cat >"$c/Dockerfile" <<'DF'
FROM busybox:1
COPY dir/ /d/
RUN rm -r /d && mkdir /d && echo b >/d/b && rm /bin/ls
COPY dir/ /d/
RUN test "$(cd /d && echo *)" = "a b" && ! test -e /bin/ls && test "$(cat /d/a /d/b | tr '\n' ' ')" = "a b "
DF
kb --source-date-epoch 1700000000 -t equal-apart:1 "$c"
expect_eq "$(cfg equal-apart:1 '.rootfs.diff_ids[1] == .rootfs.diff_ids[3]')" true \
	"the two COPY dir/ layers are equal"

say "xattrs: the same names set in another order give the same layer"
need_cmd setfattr
xattr_ok=yes
for order in "c a b" "b c a"; do
	c=$(ctx "xattr-$(echo "$order" | tr -d ' ')")
	echo x >"$c/f"
	for n in $order; do setfattr -n "user.$n" -v "$n" "$c/f" 2>/dev/null || xattr_ok=; done
	printf 'FROM busybox:1\nCOPY f /f\n' >"$c/Dockerfile"
	kb --source-date-epoch 1700000000 -t "xattr-$(echo "$order" | tr -d ' '):1" "$c"
done
if [ -n "$xattr_ok" ]; then
	expect_eq "$(cfg xattr-cab:1 '.rootfs.diff_ids[1]')" "$(cfg xattr-bca:1 '.rootfs.diff_ids[1]')" \
		"diffID of COPY f with xattrs set c,a,b and b,c,a"
else
	say "no user xattrs in $T: not compared"
fi

say "default PATH: a base without one (kiln import) gets BuildKit's"
defpath=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
expect_eq "$(cfg busybox:1 '.config.Env')" null "Env of the imported base"
c=$(ctx path)
cat >"$c/Dockerfile" <<'DF'
FROM busybox:1
ENV PATH=/x:$PATH
RUN printf '#!/bin/sh\necho hi from PATH\n' >/usr/bin/hi && chmod 755 /usr/bin/hi
RUN hi
DF
kb -t path:1 "$c"
expect_contains "$(cat "$T/log")" "hi from PATH" "RUN hi"
expect_eq "$(cfg path:1 '.config.Env')" "[\"PATH=/x:$defpath\"]" "Env after ENV PATH=/x:\$PATH"
printf 'FROM busybox:1\nRUN true\n' >"$c/Dockerfile"
kb -t path:2 "$c"
expect_eq "$(cfg path:2 '.config.Env')" "[\"PATH=$defpath\"]" "Env of a stage on the base"
expect_eq "$(prun path:1 hi)" "hi from PATH" "podman run path:1 hi"

say "ARG: the name is expanded too (ARG \${src}=...)"
c=$(ctx argkey)
cat >"$c/Dockerfile" <<'DF'
FROM busybox:1
ENV src file3
ARG ${src}=context/${src}
RUN echo "file3=[$file3]"
DF
kb --no-cache -t argkey:1 "$c"
expect_contains "$(cat "$T/log")" "file3=[context/file3]" "RUN after ARG \${src}=context/\${src}"
kb --no-cache --build-arg file3=from-cli -t argkey:2 "$c"
expect_contains "$(cat "$T/log")" "file3=[from-cli]" "RUN with --build-arg file3"
case "$(cat "$T/log")" in *"not consumed"*) fail "--build-arg file3 reported unused: $(cat "$T/log")" ;; esac
printf 'FROM busybox:1\nARG ${unset}=x\n' >"$c/Dockerfile"
kb_fail -t argkey:3 "$c"
expect_contains "$(cat "$T/log")" "ARG: name '\${unset}' expands to nothing" "ARG \${unset}=x"

say "COPY: a wildcard that matches nothing copies nothing (testEmptyWildcard)"
c=$(ctx wild)
echo contents0 >"$c/foo"
mkdir -p "$c/x/y" && echo 1 >"$c/x/one.txt" && echo 2 >"$c/x/y/two.txt" && echo 0 >"$c/top.txt"
cat >"$c/Dockerfile" <<'DF'
FROM busybox:1
COPY foo nomatch* /
COPY requirements.* /app/
RUN test -f /foo && ! test -e /app
COPY **/*.txt /txt/
RUN test "$(cd /txt && echo *)" = "one.txt"
DF
kb -t wild:1 "$c"
printf 'FROM busybox:1\nCOPY nomatch /\n' >"$c/Dockerfile"
kb_fail -t wild:2 "$c"
expect_contains "$(cat "$T/log")" "source 'nomatch': no such file or directory" "COPY nomatch"

say "COPY: a directory onto a symlink in the image fails, as in BuildKit"
c=$(ctx onto-link)
mkdir -p "$c/tree/lib" && echo m >"$c/tree/lib/mod.so"
cat >"$c/Dockerfile" <<'DF'
FROM busybox:1
RUN mkdir -p /usr/lib && ln -s usr/lib /lib
COPY tree/ /
DF
kb_fail -t onto-link:1 "$c"
expect_contains "$(cat "$T/log")" "cannot copy to non-directory '/lib' (a symlink in the image)" \
	"COPY tree/ / onto /lib -> usr/lib"
printf 'FROM busybox:1\nRUN mkdir -p /usr/lib && ln -s usr/lib /lib\nCOPY tree/lib/ /lib/\n' \
	>"$c/Dockerfile"
kb -t onto-link:2 "$c"
expect_eq "$(cat "$(unpack onto-link:2)/usr/lib/mod.so")" m "COPY tree/lib/ /lib/ (the destination is followed)"

# The same tree, its names made in another order, on ext4 ($T) and on a tmpfs
# (which lists a directory newest first); files with three xattrs set in two orders.
make_tree() { # make_tree DIR ORDER...
	d=$1
	shift
	for n in "$@"; do
		mkdir -p "$d/dir-$n/sub"
		echo "$n" >"$d/dir-$n/sub/file"
		echo "$n" >"$d/file-$n"
		ln -s "file-$n" "$d/link-$n"
	done
	ln "$d/file-a" "$d/hardlink-a"
	echo x >"$d/xattrs"
	if [ "$1" = a ]; then set -- c a b; else set -- b c a; fi
	for n in "$@"; do setfattr -n "user.$n" -v "$n" "$d/xattrs" 2>/dev/null || true; done
	printf 'FROM busybox:1\nCOPY . /ctx/\nRUN ls -R /ctx >/ls-R\n' >"$d/Dockerfile"
}
if [ "$(id -u)" = 0 ]; then
	say "readdir order: the same context on ext4 and on a tmpfs gives one image ID"
	mkdir -p "$T/c/tmpfs"
	mount -t tmpfs -o mode=0755 kiln-t0528 "$T/c/tmpfs"
	umount_tmpfs() { umount "$T/c/tmpfs"; }
	add_cleanup umount_tmpfs
	make_tree "$T/c/ext4" a b c d e f g h
	make_tree "$T/c/tmpfs" h g f e d c b a
	[ "$(ls -f "$T/c/tmpfs" | head -3 | tail -1)" != "$(ls -f "$T/c/ext4" | head -3 | tail -1)" ] ||
		say "both list their first name alike"
	kb --source-date-epoch 1700000000 -t order-ext4:1 "$T/c/ext4"
	id1=$(tail -1 "$T/out")
	kb --source-date-epoch 1700000000 -t order-tmpfs:1 "$T/c/tmpfs"
	id2=$(tail -1 "$T/out")
	expect_eq "$(cfg order-tmpfs:1 .rootfs.diff_ids)" "$(cfg order-ext4:1 .rootfs.diff_ids)" \
		"layers of the context on tmpfs and on ext4"
	expect_eq "$id2" "$id1" "image ID of the context on tmpfs and on ext4"
fi
