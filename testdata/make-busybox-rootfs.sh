#!/bin/sh
# Build the root filesystem of the test base image (busybox:1) from Debian's
# busybox-static, as a tar archive that is the same, byte for byte, on every run:
# names sorted, owners 0:0, every mtime SOURCE_DATE_EPOCH (default 1700000000).
#
# usage: make-busybox-rootfs.sh OUT.tar
# Needs no root: ownership is set in the archive, not on disk.
set -eu

out=${1:?usage: make-busybox-rootfs.sh OUT.tar}
bb=${BUSYBOX:-/bin/busybox}
# the applets to link: another architecture's busybox cannot list its own, so
# BUSYBOX_APPLETS names a busybox of the same version that runs here
list=${BUSYBOX_APPLETS:-$bb}
epoch=${SOURCE_DATE_EPOCH:-1700000000}

if ! [ -x "$bb" ] || ! "$list" --list-full >/dev/null 2>&1; then
	echo "make-busybox-rootfs.sh: '$bb' is not a static busybox (apt-get install busybox-static)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-busybox.XXXXXX")
trap 'rm -rf "$work"' EXIT
r=$work/rootfs
umask 022
mkdir -p "$r/bin" "$r/sbin" "$r/usr/bin" "$r/usr/sbin" "$r/etc" "$r/root" "$r/home" \
	"$r/proc" "$r/sys" "$r/dev" "$r/run" "$r/var/tmp" "$r/tmp"
chmod 1777 "$r/tmp" "$r/var/tmp"
chmod 0700 "$r/root"
cp "$bb" "$r/bin/busybox"
chmod 0755 "$r/bin/busybox"
# one absolute symlink per applet, as `busybox --install -s` makes them
"$list" --list-full | while read -r applet; do
	[ "$applet" = bin/busybox ] && continue
	mkdir -p "$r/$(dirname "$applet")"
	ln -sf /bin/busybox "$r/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' >"$r/etc/shadow"
chmod 0640 "$r/etc/shadow"
echo busybox >"$r/etc/hostname"

tar -C "$r" --sort=name --format=ustar --numeric-owner --owner=0 --group=0 \
	--mtime="@$epoch" -cf "$out.tmp" .
mv "$out.tmp" "$out"
