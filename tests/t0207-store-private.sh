#!/bin/sh
# The store is private: its directories are 0700 and its lock files 0600 whatever the
# umask, a store made world-readable is tightened when kiln opens it, and another local
# user can neither hold a lock (and hang every kiln) nor read or run a layer's files (a
# setuid binary in a snapshot: the CVE-2021-41091 class).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_root
need_cmd useradd runuser flock

id intruder >/dev/null 2>&1 || useradd --no-create-home --shell /bin/sh intruder
as_intruder() { (cd / && runuser -u intruder -- "$@"); }

# modes STORE: every directory and lock file with its mode
modes() {
	(cd "$1" && stat -c '%a %n' . blobs blobs/sha256 snapshots cache tmp blocks .kiln-lock .kiln-gc)
}
want_modes='700 .
700 blobs
700 blobs/sha256
700 snapshots
700 cache
700 tmp
700 blocks
600 .kiln-lock
600 .kiln-gc'

say "a new store, made under umask 000"
as_runner sh -c "umask 000 && exec '$KILN' import '$(busybox_rootfs_tar)' busybox:1" >/dev/null
d=$(ctx app)
printf 'FROM busybox:1\nRUN cp /bin/busybox /suid && chmod 4755 /suid && echo secret >/secret && chmod 0644 /secret\n' >"$d/Dockerfile"
kb -t app:1 "$d"
expect_eq "$(modes "$KILN_ROOT")" "$want_modes" "store modes"

say "another user cannot hold its locks, nor read or run what is in its layers"
for l in .kiln-lock .kiln-gc; do
	as_intruder flock -n "$KILN_ROOT/$l" true 2>/dev/null && fail "intruder could flock $l"
done
top=$(cfg app:1 '.rootfs.diff_ids[-1]' | tr -d '"' | cut -d: -f2)
[ -u "$KILN_ROOT/snapshots/$top/suid" ] || fail "no setuid file in the snapshot"
as_intruder "$KILN_ROOT/snapshots/$top/suid" true 2>/dev/null && fail "intruder ran a setuid binary of a snapshot"
as_intruder cat "$KILN_ROOT/snapshots/$top/secret" 2>/dev/null && fail "intruder read a snapshot's file"
as_intruder ls "$KILN_ROOT/blobs/sha256" >/dev/null 2>&1 && fail "intruder listed the blobs"
as_intruder cat "$KILN_ROOT/index.json" >/dev/null 2>&1 && fail "intruder read index.json"

say "builds, podman and umoci still read the store"
kb -t app:2 "$d"
expect_eq "$(prun app:1 cat /secret)" secret "podman run of the image"
[ -u "$(unpack app:1)/suid" ] || fail "umoci: no setuid file"

say "a store left world-readable by an older kiln is tightened on open"
chmod 0755 "$KILN_ROOT" "$KILN_ROOT"/blobs "$KILN_ROOT"/blobs/sha256 "$KILN_ROOT"/snapshots \
	"$KILN_ROOT"/cache "$KILN_ROOT"/tmp "$KILN_ROOT"/blocks
chmod 0644 "$KILN_ROOT/.kiln-lock" "$KILN_ROOT/.kiln-gc"
as_runner "$KILN" images >/dev/null
expect_eq "$(modes "$KILN_ROOT")" "$want_modes" "store modes after open"

say "as root too"
R=$T/rootstore
(umask 000 && "$KILN" import --root "$R" "$(busybox_rootfs_tar)" busybox:1 >/dev/null)
expect_eq "$(modes "$R")" "$want_modes" "root's store modes"
