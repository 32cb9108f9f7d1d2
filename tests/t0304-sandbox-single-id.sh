#!/bin/sh
# Without newuidmap (or without a subordinate range) the rootless sandbox falls
# back to a single-id user namespace, says once what will not work and how to
# fix it, and still runs steps as container root.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-sandbox.sh"
need_root
cp "$(busybox_rootfs_tar)" "$T/rootfs.tar"
chmod 0644 "$T/rootfs.tar"

# A PATH with tar but without newuidmap/newgidmap: "the uidmap package is not installed".
mkdir "$T/bin"
for c in tar gzip; do ln -s "$(command -v $c)" "$T/bin/$c"; done
sb() { as_builder env PATH="$T/bin" "$PROBE" --userns "$@"; }
uid=$(id -u "$KILN_TEST_USER")

as_builder mkdir lower up work
sb --exec -- tar -C lower -xf rootfs.tar 2>"$T/err"
expect_contains "$(cat "$T/err")" "kiln: warning: user '$KILN_TEST_USER' has no subordinate id range (or newuidmap is missing)" "warning"
expect_contains "$(cat "$T/err")" "fix: add a range such as '$KILN_TEST_USER:100000:65536' to /etc/subuid and /etc/subgid" "the fix"
expect_eq "$(grep -c warning "$T/err")" 1 "warned once"
expect_eq "$(stat -c %u "$T/lower/bin/busybox")" "$uid" "extracted files belong to the user"

out=$(sb --lower lower --upper up --work work -- sh -c 'id -u; echo x >/x;
	chown 1000 /x 2>&1 || echo chown-failed' 2>/dev/null)
expect_eq "$(echo "$out" | sed -n 1p)" 0 "container root"
expect_contains "$out" "chown-failed" "chown to an unmapped id fails"
expect_eq "$(stat -c %u "$T/up/x")" "$uid" "owner on the host"
expect_fail 125 "sandbox: set the user id to 1000 (not mapped in the user namespace): Invalid argument" \
	sb --lower lower --upper up --work work --uid 1000 -- true
