#!/bin/sh
# kiln build's flags and failure modes, rootless: -f FILE, -f - (stdin), -q,
# --no-cache, --network none|host, ONBUILD across builds, and a failing RUN that
# names the step and the status, tags nothing and leaves the store as it was.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
build_setup

c=$(ctx flags)
mkdir -p "$c/df"
cat >"$c/df/Other.dockerfile" <<'EOF'
FROM busybox:1
RUN echo "other dockerfile" > /which.txt
EOF
# -f FILE outside CONTEXT/Dockerfile
kb -t f:1 -f "$c/df/Other.dockerfile" "$c"
expect_eq "$(cat "$(unpack f:1)/which.txt")" "other dockerfile" "-f FILE"

# -f - reads the Dockerfile from stdin; -q prints only the image id
echo "from stdin" >"$c/payload"
own_ctx
printf 'FROM busybox:1\nCOPY payload /payload\nRUN cat /proc/sys/kernel/random/uuid > /stamp\n' >"$T/stdin.df"
as_runner sh -c "'$KILN' build -q -t stdin:1 -f - '$c' <'$T/stdin.df'" >"$T/out" 2>"$T/log" ||
	fail "build -f -: $(cat "$T/log")"
expect_eq "$(cat "$T/log")" "" "-q: nothing on stderr"
id=$(cat "$T/out")
case "$id" in sha256:????????????????????????????????????????????????????????????????) ;;
*) fail "-q printed more than the image id: $id" ;; esac
r=$(unpack stdin:1)
expect_eq "$(cat "$r/payload")" "from stdin" "-f -: context still read"
stamp=$(cat "$r/stamp")

# the same build again is cached and is the same image: a cached step keeps the
# time of the build that ran it, as BuildKit
sleep 1
as_runner sh -c "'$KILN' build --progress=plain -t stdin:2 -f - '$c' <'$T/stdin.df'" \
	>"$T/out" 2>"$T/log" || fail "cached build: $(cat "$T/log")"
expect_eq "$(tail -1 "$T/out")" "$id" "a cached rebuild is the same image"
expect_eq "$(grep -c CACHED "$T/log")" 2 "a rebuild uses the cache for COPY and RUN"
expect_eq "$(grep -c 'COPY payload' "$T/log")" 1 "a cached step's title, printed once as BuildKit"
for n in 1 2; do
	as_runner sh -c "'$KILN' build -q --source-date-epoch 1700000000 -t epoch:$n -f - '$c' <'$T/stdin.df'" \
		>"$T/out.$n" 2>"$T/log" || fail "build --source-date-epoch: $(cat "$T/log")"
done
expect_eq "$(cat "$T/out.2")" "$(cat "$T/out.1")" "a cached rebuild with --source-date-epoch"
# the epoch wins over the times cached steps remember
expect_eq "$(cfg epoch:1 '[.created, .history[-2:][].created] | unique')" '["2023-11-14T22:13:20Z"]' \
	"created from --source-date-epoch"
as_runner sh -c "'$KILN' build --progress=plain --no-cache -t stdin:3 -f - '$c' <'$T/stdin.df'" \
	>"$T/out" 2>"$T/log" || fail "--no-cache build: $(cat "$T/log")"
! grep -q CACHED "$T/log" || fail "--no-cache used the cache: $(cat "$T/log")"
[ "$(cat "$(unpack stdin:3)/stamp")" != "$stamp" ] || fail "--no-cache did not run RUN again"

# --network none: only lo; host (the default): the host's interfaces
cat >"$c/Dockerfile" <<'EOF'
FROM busybox:1
RUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ' > /net.txt; \
    ls /sys/class/net | tr '\n' ' ' > /sys-net.txt
EOF
kb --no-cache -t netnone:1 --network none "$c"
expect_eq "$(cat "$(unpack netnone:1)/net.txt")" "lo " "--network none"
expect_eq "$(cat "$(unpack netnone:1)/sys-net.txt")" "lo " "--network none: /sys is the sandbox's own"
kb --no-cache -t nethost:1 --network host "$c"
# host: the host's interfaces (the one with the default route, which stays put
# while other tests on this machine may add and remove veths)
iface=$(awk '$2 == "00000000" { print $1; exit }' /proc/net/route)
[ -n "$iface" ] || iface=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | grep -vx lo | head -1)
[ -n "$iface" ] || skip "the host has no interface but lo"
net=$(cat "$(unpack nethost:1)/net.txt")
expect_contains " $net" " lo " "--network host: lo"
expect_contains " $net" " $iface " "--network host: the host's $iface"

# ONBUILD: stored in the config, run by the build FROM the image, not inherited
o=$(ctx onbuild)
echo "trigger data" >"$o/data.txt"
cat >"$o/Dockerfile" <<'EOF'
FROM busybox:1
ONBUILD COPY data.txt /onbuild-data.txt
ONBUILD RUN echo "triggered" > /triggered.txt
RUN echo parent > /parent.txt
EOF
kb -t parent:1 "$o"
expect_eq "$(cfg parent:1 .config.OnBuild)" '["COPY data.txt /onbuild-data.txt","RUN echo \"triggered\" > /triggered.txt"]' "OnBuild"
r=$(unpack parent:1)
[ ! -e "$r/triggered.txt" ] || fail "ONBUILD ran in the image that declares it"
printf 'FROM parent:1\nRUN cat /triggered.txt /onbuild-data.txt > /child.txt\n' >"$o/Dockerfile"
kb -t child:1 "$o"
expect_eq "$(cat "$(unpack child:1)/child.txt")" "triggered
trigger data" "ONBUILD triggers ran before the child's RUN"
expect_eq "$(cfg child:1 .config.OnBuild)" null "ONBUILD is not inherited further"
printf 'FROM child:1\nRUN test ! -e /grandchild && echo ok > /grandchild\n' >"$o/Dockerfile"
rm "$o/data.txt"
kb -t grandchild:1 "$o"

# a failing RUN: step, command and status named; nothing tagged; store unchanged
store_state >"$T/before"
cat >"$c/Dockerfile" <<'EOF'
FROM busybox:1
RUN echo partial > /partial
RUN echo about to fail && exit 42
RUN echo never
EOF
kb_fail -t failed:1 -t stdin:1 "$c"
grep -q "step 3/4" "$T/log" || fail "the failing step is not named: $(cat "$T/log")"
grep -q "exit 42" "$T/log" || fail "the command is not named: $(cat "$T/log")"
grep -Eq "(exit code|status):? 42" "$T/log" || fail "the exit status is not named: $(cat "$T/log")"
store_state >"$T/after"
cmp -s "$T/before" "$T/after" || fail "a failed build changed the store: $(diff "$T/before" "$T/after")"
expect_eq "$(cfg stdin:1 .config.Env)" "$(cfg stdin:2 .config.Env)" "stdin:1 still the old image"
as_runner "$KILN" fsck >"$T/fsck" 2>&1 || fail "fsck after a failed build: $(cat "$T/fsck")"
# the exec form names its status too, and a missing command is an error
printf 'FROM busybox:1\nRUN ["/no/such/cmd"]\n' >"$c/Dockerfile"
kb_fail -t failed:2 "$c"
grep -q "/no/such/cmd" "$T/log" || fail "missing command not named: $(cat "$T/log")"
store_state >"$T/after"
cmp -s "$T/before" "$T/after" || fail "a failed build changed the store: $(diff "$T/before" "$T/after")"
# FROM an image the store lacks (and may not pull): named, with what to do about it
printf 'FROM nosuch:1\n' >"$c/Dockerfile"
kb_fail -t failed:3 --pull=never "$c"
grep -q "FROM nosuch:1.*pull it first with 'kiln pull nosuch:1'" "$T/log" &&
	grep -q "Dockerfile:1$" "$T/log" && grep -qF "     1 | >>> FROM nosuch:1" "$T/log" ||
	fail "FROM of a missing image: $(cat -A "$T/log")"

# a bad -t is a usage error before anything is built: no blob written
printf 'FROM busybox:1\nRUN echo x > /x\n' >"$c/Dockerfile"
own_ctx
blobs=$(ls "$KILN_ROOT/blobs/sha256" | wc -l)
expect_fail 2 "invalid image name 'UPPER:1'" as_runner "$KILN" build -q -t ok:1 -t UPPER:1 "$c"
expect_eq "$(ls "$KILN_ROOT/blobs/sha256" | wc -l)" "$blobs" "blobs after a bad -t"
expect_fail 1 "ok:1" as_runner "$KILN" inspect ok:1
