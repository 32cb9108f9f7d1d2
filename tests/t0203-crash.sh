#!/bin/sh
# kill -9 at random points of import, save and load: the store stays valid every time.
. "$(dirname "$0")/lib.sh"
need_cmd python3

R=$T/store
# a rootfs big enough for the kills to land mid-write: busybox + 24 MiB of noise
mkdir "$T/rootfs"
tar -C "$T/rootfs" -xf "$(busybox_rootfs_tar)"
head -c 25165824 /dev/urandom >"$T/rootfs/noise"
tar -C "$T/rootfs" -cf "$T/big.tar" .
"$KILN" import --root "$R" "$T/big.tar" base:1 >/dev/null
"$KILN" save --root "$R" base:1 -o "$T/base-oci.tar"
"$KILN" save --root "$R" --format docker-archive base:1 -o "$T/base-docker.tar"

runs=${KILN_CRASH_RUNS:-50}
i=0
while [ $i -lt $runs ]; do
	i=$((i + 1))
	# import runs ~0.4 s here, save and load ~0.1 s: kill somewhere inside
	max=0.1
	[ $((i % 4)) = 0 ] && max=0.4
	delay=$(awk -v s="$i$$" -v m=$max 'BEGIN { srand(s); printf "%.3f", rand() * m }')
	case $((i % 4)) in
	0) "$KILN" import --root "$R" "$T/big.tar" "crash:$i" >/dev/null 2>&1 & ;;
	1) "$KILN" save --root "$R" base:1 -o "$T/out-$i.tar" >/dev/null 2>&1 & ;;
	2) "$KILN" load --root "$R" -i "$T/base-oci.tar" >/dev/null 2>&1 & ;;
	3) "$KILN" load --root "$R" -i "$T/base-docker.tar" >/dev/null 2>&1 & ;;
	esac
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	"$KILN" fsck --root "$R" >"$T/fsck.out" 2>&1 ||
		fail "run $i (kill after ${delay}s): store damaged: $(cat "$T/fsck.out")"
	# a killed save leaves no partial output file under the final name
	if [ -e "$T/out-$i.tar" ]; then
		tar -tf "$T/out-$i.tar" >/dev/null 2>&1 || fail "run $i: a partial archive under the final name"
	fi
done
say "$runs kills, store valid after each"

# the store is still usable, and prune clears what the kills left in tmp/
"$KILN" import --root "$R" "$T/big.tar" after:1 >/dev/null
"$KILN" prune --root "$R" >/dev/null
expect_eq "$(ls "$R/tmp")" "" "tmp/ after prune"
"$KILN" fsck --root "$R" || fail "fsck after prune"
"$KILN" inspect --root "$R" after:1 >/dev/null || fail "image lost"
