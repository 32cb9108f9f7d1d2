#!/bin/sh
# A `kill -9` of the process running a step (kiln, here sandbox-probe) during a
# RUN leaves no stray process and no mount behind, rootless and as root.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-sandbox.sh"
need_root
cp "$(busybox_rootfs_tar)" "$T/rootfs.tar"
chmod 0644 "$T/rootfs.tar"

# the processes whose command line is exactly `sleep MARKER`
marker_procs() {
	for f in /proc/[0-9]*/cmdline; do
		[ "$( (tr '\0' ' ' <"$f") 2>/dev/null)" != "sleep $1 " ] || echo "$f"
	done
}
# on failure, do not leave what the test started running for days
kill_leftovers() {
	for m in 987661 987662; do
		for f in $(marker_procs $m); do
			p=${f#/proc/}
			kill -9 "${p%/cmdline}" 2>/dev/null || true
		done
	done
}
add_cleanup kill_leftovers
mounts_of() { grep -ls "$1" /proc/[0-9]*/mountinfo 2>/dev/null || true; }

# kill_step MARKER RUNNER...: start a step running `sleep MARKER` through RUNNER,
# kill -9 the probe once the sleep runs, and check nothing is left.
kill_step() {
	marker=$1
	shift
	"$@" sh -c "echo \$\$ >pid.$marker && exec '$PROBE' $userns --lower lower \
		--upper up.$marker --work work.$marker -- sleep $marker" &
	job=$!
	i=0
	until [ -n "$(marker_procs "$marker")" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "the step did not start"
		sleep 0.05
	done
	[ -n "$(mounts_of "$T/work.$marker")" ] || fail "the check cannot see the sandbox's mounts"
	kill -9 "$(cat "$T/pid.$marker")"
	wait "$job" || true
	i=0
	while [ -n "$(marker_procs "$marker")$(mounts_of "$T/work.$marker")" ]; do
		i=$((i + 1))
		[ $i -lt 40 ] || fail "left behind: processes $(marker_procs "$marker"), mounts in $(mounts_of "$T/work.$marker")"
		sleep 0.05
	done
}

say "rootless"
as_builder mkdir lower up.987661 work.987661
as_builder "$PROBE" --userns --exec -- tar -C lower -xf rootfs.tar
userns=--userns
kill_step 987661 as_builder

say "as root"
rm -rf "$T/lower"
mkdir "$T/lower" "$T/up.987662" "$T/work.987662"
tar -C "$T/lower" -xf "$T/rootfs.tar"
userns=
(cd "$T" && kill_step 987662 env)
