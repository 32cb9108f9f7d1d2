#!/bin/sh
# Layer commit benchmarks: kiln against `tar | gzip -6` and `tar | pigz -p2 -6`,
# interleaved in one run, median of N runs, on
#   tree: the 20,000-file tree of ../shared/peers/gen-bigcopy.py (~92 MB)
#   big:  one 500 MiB file of random data
# and SHA-256 against `openssl speed -evp sha256`. Prints ratios and kiln's peak RSS.
#
# usage: bench/layers.sh [BUILD_DIR]     (env: BENCH_DIR=/tmp/kiln-bench RUNS=3)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
tool=$build/layers/tests/layer-tool
gen=${GEN_BIGCOPY:-$src/../shared/peers/gen-bigcopy.py}
dir=${BENCH_DIR:-/tmp/kiln-bench}
runs=${RUNS:-3}

[ -x "$tool" ] || { echo "bench: build first ($tool missing)" >&2; exit 1; }
for c in pigz gzip tar openssl python3 /usr/bin/time; do
	command -v "$c" >/dev/null || { echo "bench: '$c' is not installed" >&2; exit 1; }
done
mkdir -p "$dir"
[ -d "$dir/tree" ] || python3 "$gen" "$dir/tree" >/dev/null
[ -f "$dir/big/random" ] || { mkdir -p "$dir/big" && head -c 524288000 /dev/urandom >"$dir/big/random"; }
# warm the page cache so every contender reads from memory
tar -C "$dir/tree" -cf - . | cat >/dev/null
cat "$dir/big/random" >/dev/null

# run LABEL CMD...: append "LABEL seconds maxrss_kb cpu_seconds" to $dir/times
run() {
	label=$1
	shift
	/usr/bin/time -f "$label %e %M %U %S" -a -o "$dir/times" "$@" >/dev/null
}

median() { # median LABEL FIELD (5: user+sys)
	awk -v l="$1" -v f="$2" '$1 == l { print (f == 5) ? $4 + $5 : $f }' "$dir/times" | sort -n |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

: >"$dir/times"
i=0
while [ $i -lt "$runs" ]; do
	i=$((i + 1))
	for set in tree big; do
		run "kiln-$set" "$tool" commit "$dir/$set" "$dir/out-kiln.gz" gzip
		run "gzip-$set" sh -c "tar -C '$dir/$set' -cf - . | gzip -6 >'$dir/out-gzip.gz'"
		run "pigz-$set" sh -c "tar -C '$dir/$set' -cf - . | pigz -p2 -6 >'$dir/out-pigz.gz'"
	done
done

echo "layer commit, median of $runs runs (seconds; ratio = kiln / peer); load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %8s %8s %8s %10s %10s %12s\n' set kiln gzip-6 pigz-p2 kiln/gzip kiln/pigz "kiln RSS"
for set in tree big; do
	for f in 2 5; do
		k=$(median "kiln-$set" $f) g=$(median "gzip-$set" $f) p=$(median "pigz-$set" $f)
		rss=$(median "kiln-$set" 3)
		awk -v s="$set $([ $f = 2 ] && echo wall || echo cpu)" -v k="$k" -v g="$g" -v p="$p" -v m="$rss" 'BEGIN {
			printf "%-10s %8.2f %8.2f %8.2f %10.2f %10.2f %9.1f MiB\n", s, k, g, p, k / g, k / p, m / 1024 }'
	done
done
"$tool" commit "$dir/tree" "$dir/out-kiln.gz" gzip >/dev/null
tar -C "$dir/tree" -cf - . | gzip -6 >"$dir/out-gzip.gz"
echo "tree sizes: kiln $(stat -c %s "$dir/out-kiln.gz") bytes, gzip -6 $(stat -c %s "$dir/out-gzip.gz") bytes"

# best of 3 each, alternating, so both see the same machine
best=0 ossl=0
for i in 1 2 3; do
	v=$("$tool" sha256 "$dir/big/random" | awk '{ print $2 }')
	[ "$v" -gt "$best" ] && best=$v
	v=$(openssl speed -evp sha256 -bytes 16384 -seconds 1 2>/dev/null |
		awk '/^sha256/ { sub(/k$/, "", $2); printf "%.0f", $2 * 1000 / 1e6 }')
	[ "$v" -gt "$ossl" ] && ossl=$v
done
awk -v k="$best" -v o="$ossl" 'BEGIN {
	printf "sha256 (best of 3): kiln %d MB/s, openssl speed -evp sha256 (16 KiB) %d MB/s: %.0f%%\n", k, o, 100 * k / o }'
rm -f "$dir/out-kiln.gz" "$dir/out-gzip.gz" "$dir/out-pigz.gz"
