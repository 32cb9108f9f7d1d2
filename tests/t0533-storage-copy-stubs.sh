#!/bin/sh
# --storage=copy puts the mount points a RUN needs (/etc/resolv.conf and
# /etc/hosts when the image lacks them, a RUN --mount target) into the rootfs
# itself and removes them after the step. A step that swaps a stub's parent
# for a symlink to a host directory must not make kiln delete (or touch) the
# host's files there (CVE-2024-23652, BuildKit's mount stub cleaner).
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
need_root

# the victim directory belongs to the user who builds, so kiln could delete in it
victim=$T/victim
mkdir -p "$victim/etc" "$victim/mnt/sub"
for f in etc/resolv.conf etc/hosts mnt/sub/file.txt; do echo "host canary $f" >"$victim/$f"; done
chown -R "$KILN_TEST_USER": "$victim"
touch -d @1000000000 "$victim/etc" "$victim/mnt/sub" "$victim/mnt"

c=$(ctx stubs)
echo bound >"$c/file.txt"
cat >"$c/Dockerfile" <<DF
FROM busybox:1
RUN --mount=type=bind,source=file.txt,target=/mnt/sub/file.txt \
    mv /etc /etc.moved && ln -s $victim/etc /etc && \
    mv /mnt /mnt.moved && ln -s $victim/mnt /mnt
DF
state() { (cd "$victim" && find . -printf '%p %y %s %T@\n' | LC_ALL=C sort); }
before=$(state)

for who in builder root; do
	KILN_BUILD_AS=$who
	KILN_ROOT=$T/store-$who
	build_setup
	say "$who: a step that swaps stub parents for symlinks to the host"
	kb --no-cache --storage=copy -t stubs:1 "$c"
	for f in etc/resolv.conf etc/hosts mnt/sub/file.txt; do
		[ -f "$victim/$f" ] || fail "$who: the host's $victim/$f was deleted"
		expect_eq "$(cat "$victim/$f")" "host canary $f" "$who: the host's $f"
	done
	expect_eq "$(state)" "$before" "$who: the host directory is as it was"
	r=$(unpack stubs:1)
	expect_eq "$(readlink "$r/etc")" "$victim/etc" "$who: the step's symlink is in the layer"
	[ -f "$r/etc.moved/passwd" ] || fail "$who: /etc.moved is not in the layer"
	# the stubs the step moved away stay where it put them (empty), as with BuildKit
	expect_eq "$(stat -c %s "$r/etc.moved/resolv.conf")" 0 "$who: the moved stub"
done
say "ok"
