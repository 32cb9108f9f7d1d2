#!/bin/sh
# kiln build's options for RUN, as docker build's, rootless: --add-host (lines
# in RUN's /etc/hosts, a bind mount: never in the layer; part of the step's
# cache key, as in BuildKit).
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
