#!/bin/sh
# kiln build's options for RUN, as docker build's, rootless: --add-host (lines
# in RUN's /etc/hosts, a bind mount: never in the layer), --shm-size (RUN's
# /dev/shm), --ulimit (RUN's /proc/self/limits; a hard limit above kiln's own
# refused). Each is part of the step's cache key, as in BuildKit.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"

build_setup
c=$(ctx hosts)
cat >"$c/Dockerfile" <<'DF'
FROM busybox:1
RUN cp /etc/hosts /hosts.copy
DF
# the files of the image's top layer, as the registry would get them
top_layer() {
	d=$(skopeo inspect --raw "oci:$KILN_ROOT:$1" | jq -r '.layers[-1].digest')
	tar -tzf "$KILN_ROOT/blobs/sha256/${d#sha256:}" | LC_ALL=C sort | tr '\n' ' '
}

# cached TEXT: the step TEXT was reported CACHED in the last build's log
cached() {
	awk '/^#[0-9]+ \[/ {id=$1; sub(/^#[0-9]+ \[[^]]*\] /, ""); text[id]=$0}
	     /^#[0-9]+ CACHED$/ {print text[$1]}' "$T/log" | grep -qxF -- "$1"
}

say "--add-host: RUN's /etc/hosts gets IP<tab>HOST, the layer no /etc/hosts"
kb --add-host db.internal:10.1.2.3 --add-host v6host=[fd00:0::1] --add-host cache:::1 -t h:1 "$c"
r=$(unpack h:1)
tail -n 3 "$r/hosts.copy" >"$T/extra"
printf '10.1.2.3\tdb.internal\nfd00::1\tv6host\n::1\tcache\n' >"$T/want"
diff -u "$T/want" "$T/extra" || fail "the --add-host lines in RUN's /etc/hosts"
grep -q "^127.0.0.1	localhost" "$r/hosts.copy" || fail "localhost is gone: $(cat "$r/hosts.copy")"
expect_eq "$(top_layer h:1)" "hosts.copy " "the RUN layer holds only what RUN wrote"
[ ! -e "$r/etc/hosts" ] || [ -z "$(grep db.internal "$r/etc/hosts")" ] ||
	fail "the --add-host entry reached the image's /etc/hosts"

say "the same with --storage=copy, where /etc/hosts is a stub removed after the step"
kb --storage=copy --no-cache --add-host db.internal:10.1.2.3 -t hc:1 "$c"
expect_eq "$(tail -n 1 "$(unpack hc:1)/hosts.copy")" "$(printf '10.1.2.3\tdb.internal')" "copy storage"
expect_eq "$(top_layer hc:1)" "hosts.copy " "copy storage: the layer"

say "the entries are in the step's cache key"
kb --add-host db.internal:10.1.2.3 --add-host v6host=[fd00:0::1] --add-host cache:::1 -t h:1 "$c"
cached "RUN cp /etc/hosts /hosts.copy" || fail "the same --add-host did not hit the cache: $(cat "$T/log")"
kb --add-host db.internal:10.9.9.9 -t h:2 "$c"
cached "RUN cp /etc/hosts /hosts.copy" && fail "another --add-host hit the cache: $(cat "$T/log")"
expect_eq "$(tail -n 1 "$(unpack h:2)/hosts.copy")" "$(printf '10.9.9.9\tdb.internal')" "the new entry"
kb -t h:3 "$c"
cached "RUN cp /etc/hosts /hosts.copy" && fail "no --add-host hit the cache: $(cat "$T/log")"
grep -q "db.internal" "$(unpack h:3)/hosts.copy" && fail "an entry without --add-host"

say "bad values are usage errors naming the value"
ki() { as_runner "$KILN" "$@"; }
expect_fail 2 "--add-host: expected HOST:IP, got 'nocolon'" ki build --add-host nocolon "$c"
expect_fail 2 "--add-host 'db:999.1.1.1': expected an IPv4 or IPv6 address, got '999.1.1.1'" \
	ki build --add-host db:999.1.1.1 "$c"
expect_fail 2 "--add-host 'a b:1.2.3.4': expected a host name" ki build --add-host 'a b:1.2.3.4' "$c"
expect_fail 2 "expected a host name" ki build --add-host "$(printf 'x\n6.6.6.6 evil:1.2.3.4')" "$c"
expect_fail 2 "expected a host name" ki build --add-host ":1.2.3.4" "$c"
expect_fail 2 "host-gateway is not supported" ki build --add-host gw:host-gateway "$c"

say "--shm-size: the size of RUN's /dev/shm tmpfs (docker's default 64m without it)"
c=$(ctx limits)
cat >"$c/Dockerfile" <<'DF'
FROM busybox:1
RUN grep ' /dev/shm ' /proc/mounts | cut -d' ' -f3,4 >/shm && cat /proc/self/limits >/limits
DF
# shm_opt NAME OPTION: the option of the /dev/shm mount RUN saw in image NAME
shm_opt() { tr ',' '\n' <"$(unpack "$1")/shm" | grep "^$2" || true; }
# limit NAME WHAT: "SOFT HARD" of /proc/self/limits' line WHAT, as RUN saw it
limit() { grep "^$2 " "$(unpack "$1")/limits" | sed "s/^$2 *//" | awk '{print $1, $2}'; }
kb -t l:1 "$c"
expect_eq "$(shm_opt l:1 size=)" "size=65536k" "the default /dev/shm"
expect_eq "$(cut -d' ' -f1 "$(unpack l:1)/shm")" tmpfs "/dev/shm is a tmpfs"
kb --shm-size 16m -t l:2 "$c"
expect_eq "$(shm_opt l:2 size=)" "size=16384k" "--shm-size 16m"
grep -q "CACHED" "$T/log" && fail "--shm-size hit the cache of a build without it: $(cat "$T/log")"
kb --shm-size 1g -t l:3 "$c"
expect_eq "$(shm_opt l:3 size=)" "size=1048576k" "--shm-size 1g"

say "--ulimit NAME=SOFT[:HARD]: setrlimit before the command, below kiln's own"
own_nofile=$(as_runner sh -c 'ulimit -Hn')
kb --ulimit nofile=512:1024 --ulimit core=0 --ulimit nproc=2000 -t l:4 "$c"
expect_eq "$(limit l:4 'Max open files')" "512 1024" "nofile=512:1024"
expect_eq "$(limit l:4 'Max core file size')" "0 0" "core=0"
expect_eq "$(limit l:4 'Max processes')" "2000 2000" "nproc=2000: HARD is SOFT"
grep -q "CACHED" "$T/log" && fail "--ulimit hit the cache of a build without it"
expect_eq "$(limit l:1 'Max open files' | cut -d' ' -f2)" "$own_nofile" "without --ulimit, kiln's own"
kb --ulimit nofile=512:1024 --ulimit core=0 --ulimit nproc=2000 -t l:4 "$c"
cached "RUN grep ' /dev/shm ' /proc/mounts | cut -d' ' -f3,4 >/shm && cat /proc/self/limits >/limits" ||
	fail "the same --ulimit did not hit the cache: $(cat "$T/log")"
kb --storage=copy --ulimit nofile=100 --shm-size 8m -t l:5 "$c"
expect_eq "$(limit l:5 'Max open files')" "100 100" "copy storage: --ulimit"
expect_eq "$(shm_opt l:5 size=)" "size=8192k" "copy storage: --shm-size"

say "bad --shm-size and --ulimit values are usage errors"
expect_fail 2 "--shm-size: expected a size such as 64m or 1g, got 'lots'" ki build --shm-size lots "$c"
expect_fail 2 "--shm-size: expected a size such as 64m or 1g, got '0'" ki build --shm-size 0 "$c"
expect_fail 2 "--ulimit 'nofiles=1': unknown limit" ki build --ulimit nofiles=1 "$c"
expect_fail 2 "--ulimit: expected NAME=SOFT[:HARD], got 'nofile'" ki build --ulimit nofile "$c"
expect_fail 2 "--ulimit 'nofile=2048:1024': the soft limit is above the hard limit" \
	ki build --ulimit nofile=2048:1024 "$c"
expect_fail 2 "--ulimit 'nofile=x': expected numbers" ki build --ulimit nofile=x "$c"
if [ "$own_nofile" != unlimited ]; then
	over=$((own_nofile + 1))
	expect_fail 2 "--ulimit 'nofile=1024:$over': the hard limit $over is above kiln's own, $own_nofile, which only root with CAP_SYS_RESOURCE can raise" \
		ki build --ulimit "nofile=1024:$over" "$c"
fi

say "chroot isolation, which has no /etc/hosts or /dev/shm of its own, refuses them; --ulimit works"
printf 'FROM busybox:1\nRUN ulimit -n >/n\n' >"$c/Dockerfile"
kb --isolation chroot --ulimit nofile=77 -t l:6 "$c"
expect_eq "$(cat "$(unpack l:6)/n")" 77 "chroot: --ulimit"
kb_fail --isolation chroot --add-host a:1.2.3.4 "$c"
expect_contains "$(cat "$T/log")" "sandbox: --add-host needs namespaces, which chroot isolation does not have"
kb_fail --isolation chroot --shm-size 1m "$c"
expect_contains "$(cat "$T/log")" "sandbox: --shm-size needs namespaces, which chroot isolation does not have"
