#!/bin/sh
# Two kiln processes writing the store at once both succeed, and no update is lost.
. "$(dirname "$0")/lib.sh"

R=$T/store
cp "$(busybox_rootfs_tar)" "$T/rootfs.tar"
chmod 0644 "$T/rootfs.tar"
mkdir "$T/other"
echo other >"$T/other/file"
tar -C "$T/other" -cf "$T/other.tar" .
chmod 0644 "$T/other.tar"
kb() { c=$1; shift; as_builder "$KILN" "$c" --root "$R" "$@"; }

say "two imports at once"
kb import "$T/rootfs.tar" one:1 >"$T/one.out" 2>&1 &
p1=$!
kb import "$T/other.tar" two:1 >"$T/two.out" 2>&1 &
p2=$!
wait $p1 || fail "first import failed: $(cat "$T/one.out")"
wait $p2 || fail "second import failed: $(cat "$T/two.out")"
kb inspect one:1 >/dev/null && kb inspect two:1 >/dev/null || fail "an image is missing"

say "two processes tagging at once lose no name"
tagger() { # tagger PREFIX
	n=0
	while [ $n -lt 20 ]; do
		n=$((n + 1))
		kb tag one:1 "$1$n" || return 1
	done
}
tagger a >"$T/a.out" 2>&1 &
p1=$!
tagger b >"$T/b.out" 2>&1 &
p2=$!
wait $p1 || fail "tagger a failed: $(cat "$T/a.out")"
wait $p2 || fail "tagger b failed: $(cat "$T/b.out")"
expect_eq "$(kb images --format "{{.Repository}}:{{.Tag}} " | grep -c '^[ab][0-9]*:latest ')" 40 "names after concurrent tags"
kb fsck || fail "fsck after concurrent writers"

say "prune waits for no one: it refuses while another kiln holds the store"
kb import "$T/rootfs.tar" slow:1 >/dev/null &
p1=$!
set +e
kb prune >"$T/prune.out" 2>&1
set -e
wait $p1 || fail "import during prune failed"
kb inspect slow:1 >/dev/null || fail "prune removed an image being written"
kb fsck || fail "fsck after prune"

say "two processes unpacking the same layer both succeed; one snapshot remains"
tool=$KILN_BUILD/layers/tests/layer-tool
for n in 1 2 3; do
	as_builder "$tool" snapshot "$R" one:1 >"$T/snap1.out" 2>"$T/snap1.err" &
	p1=$!
	as_builder "$tool" snapshot "$R" one:1 >"$T/snap2.out" 2>"$T/snap2.err" &
	p2=$!
	wait $p1 || fail "snapshot 1 failed: $(cat "$T/snap1.err")"
	wait $p2 || fail "snapshot 2 failed: $(cat "$T/snap2.err")"
	expect_eq "$(cat "$T/snap1.out")" "$(cat "$T/snap2.out")" "snapshot paths"
	expect_eq "$(ls "$R/snapshots" | wc -l)" 1 "snapshots"
	expect_eq "$(ls "$R/tmp")" "" "tmp/ after racing unpacks"
	[ -x "$(cat "$T/snap1.out")/bin/busybox" ] || fail "snapshot incomplete"
	rm -rf "$R/snapshots"/*
done
