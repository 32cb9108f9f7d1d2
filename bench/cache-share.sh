#!/bin/sh
# bench/cache-share.sh [BUILD_DIR]: CTX (default many-steps) built cold, cold with
# --cache-to (local, registry), and warm from that cache in fresh stores; N runs (3).
# As root; a docker-registry on 127.0.0.1:25111.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$here/build}
K=$B/kiln
TAR=$B/testdata/busybox-rootfs.tar
[ -f "$TAR" ] || "$here/testdata/make-busybox-rootfs.sh" "$TAR" >/dev/null
CTX=${CTX:-$here/../shared/peers/dockerfiles/many-steps}; N=${N:-3}
W=${TMPDIR:-/tmp}/kiln-bench-cache-share; rm -rf $W; mkdir -p $W
cat > $W/reg.yml <<CFG
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $W/regstore
http:
  addr: 127.0.0.1:25111
CFG
docker-registry serve $W/reg.yml >$W/reg.log 2>&1 & RP=$!
trap 'kill $RP' EXIT
sleep 1
st() { rm -rf $W/$1; SOURCE_DATE_EPOCH=1700000000 KILN_ROOT=$W/$1 $K import $TAR busybox:1 >/dev/null; }
t() { s=$(date +%s.%N); "$@" >/dev/null 2>$W/err || { cat $W/err; exit 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }
for i in $(seq $N); do
 st a$i; st b$i; st c$i; st d$i; st e$i; rm -rf $W/D$i
 cold=$(KILN_ROOT=$W/a$i t $K build -q $CTX)
 exl=$(KILN_ROOT=$W/b$i t $K build -q --cache-to type=local,dest=$W/D$i,mode=max $CTX)
 warml=$(KILN_ROOT=$W/c$i t $K build -q --cache-from type=local,src=$W/D$i $CTX)
 exr=$(KILN_ROOT=$W/d$i t $K build -q --cache-to type=registry,ref=127.0.0.1:25111/c$i:x,mode=max $CTX)
 warmr=$(KILN_ROOT=$W/e$i t $K build -q --cache-from 127.0.0.1:25111/c$i:x $CTX)
 echo "run $i: cold $cold  cold+cache-to-local $exl  warm-from-local $warml  cold+cache-to-registry $exr  warm-from-registry $warmr"
done
