#!/bin/sh
# Device nodes in a base image (mmdebstrap's dev/console, dev/null ...): rootless, they
# are skipped with one debug line and no warning, as podman does, and the rest of the
# layer is there; as root they are created.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd python3 tar

# a busybox rootfs plus character devices and a file, as mmdebstrap writes them
cp "$(busybox_rootfs_tar)" "$T/base.tar"
python3 - "$T/base.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "a", format=tarfile.PAX_FORMAT) as t:
    for name, major, minor in (("dev/console", 5, 1), ("dev/null", 1, 3), ("dev/tty", 5, 0)):
        i = tarfile.TarInfo(name); i.type = tarfile.CHRTYPE; i.mode = 0o620
        i.devmajor, i.devminor = major, minor
        t.addfile(i)
    data = b"still here\n"
    i = tarfile.TarInfo("etc/after-devices"); i.size = len(data); i.mode = 0o644
    t.addfile(i, io.BytesIO(data))
PY
chmod 0644 "$T/base.tar"

d=$(ctx app)
printf 'FROM devbase:1\nRUN cat /etc/after-devices\n' >"$d/Dockerfile"

say "rootless: no warning, the rest of the layer is there"
as_runner "$KILN" import "$T/base.tar" devbase:1 >/dev/null 2>"$T/import.err"
kb -t app:1 "$d"
grep -i "device node\|warning" "$T/log" "$T/import.err" && fail "a warning about device nodes: $(cat "$T/log")"
grep -q "still here" "$T/log" || fail "the file after the devices is missing: $(cat "$T/log")"
# with --log-level=debug, one line says what was skipped (a fresh store unpacks again)
KILN_ROOT=$T/store2 as_runner "$KILN" import "$T/base.tar" devbase:1 >/dev/null
KILN_ROOT=$T/store2 as_runner "$KILN" --log-level=debug build --progress=plain -t app:2 "$d" >/dev/null 2>"$T/debug" ||
	fail "debug build: $(cat "$T/debug")"
expect_eq "$(grep -c "skipping device node 'dev/console'" "$T/debug")" 1 "debug lines about devices"
X=$(cfg devbase:1 '.rootfs.diff_ids[0]' | tr -d '"' | cut -d: -f2)
[ ! -e "$KILN_ROOT/snapshots/$X/dev/console" ] || [ -c "$KILN_ROOT/snapshots/$X/dev/console" ] ||
	fail "dev/console is neither skipped nor a device"

say "as root: the devices are created"
need_root
R=$T/rootstore
"$KILN" import --root "$R" "$T/base.tar" devbase:1 >/dev/null
KILN_ROOT=$R "$KILN" build --progress=plain -t app:1 "$d" >"$T/out" 2>"$T/log" || fail "root build: $(cat "$T/log")"
grep -i "device node" "$T/log" && fail "root: a warning about device nodes: $(cat "$T/log")"
[ -c "$R/snapshots/$X/dev/console" ] || fail "root: dev/console is not a character device"
expect_eq "$(stat -c '%t:%T' "$R/snapshots/$X/dev/console")" "5:1" "root: dev/console numbers"
