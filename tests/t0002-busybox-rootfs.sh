#!/bin/sh
# The test base image's rootfs is reproducible and complete.
. "$(dirname "$0")/lib.sh"
need_cmd tar sha256sum
[ -x /bin/busybox ] || skip "busybox-static is not installed"

SOURCE_DATE_EPOCH=1700000000 "$KILN_SRC/testdata/make-busybox-rootfs.sh" "$T/a.tar"
sleep 1
touch "$T/marker"
SOURCE_DATE_EPOCH=1700000000 "$KILN_SRC/testdata/make-busybox-rootfs.sh" "$T/b.tar"
expect_eq "$(sha256sum <"$T/a.tar")" "$(sha256sum <"$T/b.tar")" "rootfs tar digest"

tar -tvf "$T/a.tar" >"$T/list"
grep -q '^-rwxr-xr-x 0/0 .* ./bin/busybox$' "$T/list" || fail "no executable /bin/busybox"
grep -q '^lrwxrwxrwx 0/0 .* ./bin/sh -> /bin/busybox$' "$T/list" || fail "no /bin/sh applet link"
grep -q '^drwxrwxrwt 0/0 .* ./tmp/$' "$T/list" || fail "/tmp is not 1777"
mkdir "$T/x"
tar -C "$T/x" -xf "$T/a.tar"
grep -q '^root:x:0:0:' "$T/x/etc/passwd" || fail "no root in /etc/passwd"
grep -q '^nobody:x:65534:65534:' "$T/x/etc/passwd" || fail "no nobody in /etc/passwd"
grep -q '^root:x:0:$' "$T/x/etc/group" || fail "no root group"
# the applets work from the extracted tree
[ "$("$T/x/bin/busybox" echo hi)" = hi ] || fail "busybox does not run"
