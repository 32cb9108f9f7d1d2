#!/bin/sh
# bench/cache-export.sh [BUILD_DIR]: the cost of --cache-to alone, on a fully cached
# build of CTX (default many-steps): local, new registry tag, unchanged tag; N runs (5).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$here/build}
K=$B/kiln; TAR=$B/testdata/busybox-rootfs.tar
[ -f "$TAR" ] || "$here/testdata/make-busybox-rootfs.sh" "$TAR" >/dev/null
CTX=${CTX:-$here/../shared/peers/dockerfiles/many-steps}
W=${TMPDIR:-/tmp}/kiln-bench-cache-export; rm -rf $W; mkdir -p $W
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/regstore\nhttp:\n  addr: 127.0.0.1:25112\n' $W > $W/reg.yml
docker-registry serve $W/reg.yml >$W/reg.log 2>&1 & RP=$!
trap 'kill $RP' EXIT
sleep 1
export KILN_ROOT=$W/s
SOURCE_DATE_EPOCH=1700000000 $K import $TAR busybox:1 >/dev/null
$K build -q $CTX >/dev/null
t() { s=$(date +%s.%N); "$@" >/dev/null 2>$W/err || { cat $W/err; exit 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }
for i in $(seq ${N:-5}); do
 c=$(t $K build -q $CTX)
 l=$(t $K build -q --cache-to type=local,dest=$W/D$i,mode=max $CTX)
 r=$(t $K build -q --cache-to type=registry,ref=127.0.0.1:25112/c$i:x,mode=max $CTX)
 r2=$(t $K build -q --cache-to type=registry,ref=127.0.0.1:25112/c$i:x,mode=max $CTX)
 echo "cached $c  +local-export $l  +registry-export(new) $r  +registry-export(unchanged) $r2"
done
