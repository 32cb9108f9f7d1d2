#!/bin/sh
# RUN's network, rootless and as root: by default a namespace of its own wired
# up by pasta (or slirp4netns), so a service the host runs on 127.0.0.1 and an
# abstract unix socket of the host are out of reach while the Debian archive is
# not; --network=host reaches them (docker build --network=host), and
# --network=none has only lo. Without any helper, a clear error naming the fix.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
need_cmd python3 pasta slirp4netns
need_root

port=$((20000 + $$ % 20000))
canary="kiln-net-canary-$$"
mkdir "$T/www"
echo "$canary" >"$T/www/canary.txt"
python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$port" >"$T/http.log" 2>&1 &
http_pid=$!
# an abstract unix socket that hands the canary to whoever connects
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(b"\0" + sys.argv[1].encode())
s.listen(8)
while True:
    c, _ = s.accept()
    c.sendall(sys.argv[1].encode() + b"\n")
    c.close()
' "kiln-abstract-$$" &
unix_pid=$!
stop_servers() { kill "$http_pid" "$unix_pid" 2>/dev/null; }
add_cleanup stop_servers
for i in 1 2 3 4 5 6 7 8 9 10; do
	wget -q -O- "http://127.0.0.1:$port/canary.txt" 2>/dev/null | grep -q "$canary" && break
	sleep 0.3
done
wget -q -O- "http://127.0.0.1:$port/canary.txt" | grep -q "$canary" || fail "the host service did not start"
grep -q "@kiln-abstract-$$" /proc/net/unix || fail "the abstract socket did not start"

# can the host reach the Debian archive at all? (checked at the end)
release=http://deb.debian.org/debian/dists/bookworm/Release
archive=no
wget -q -T 10 -O- "$release" 2>/dev/null | head -1 | grep -q '^Origin: Debian' && archive=yes

c=$(ctx net)
cat >"$c/Dockerfile" <<EOF
FROM busybox:1
RUN wget -q -O- http://127.0.0.1:$port/canary.txt > /loopback.txt 2>&1; \
    grep -c kiln-abstract-$$ /proc/net/unix > /abstract.txt; \
    tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ' > /ifs.txt; \
    cp /etc/resolv.conf /resolv.txt; cp /etc/hosts /hosts.txt; true
EOF
cat >"$c/Online.dockerfile" <<EOF
FROM busybox:1
RUN timeout 30 wget -q -O- $release | head -1 > /release.txt
EOF
# Steps of a build share one namespace and helper (sandbox-net.c): what one
# step leaves listening must be gone when the next one runs.
cat >"$c/Reuse.dockerfile" <<'EOF'
FROM busybox:1
RUN nc -l -p 7777 </dev/null >/dev/null 2>&1 & sleep 0.5; cat /proc/net/tcp /proc/net/tcp6 | grep -c ':1E61 ' > /listen1.txt; true
RUN cat /proc/net/tcp /proc/net/tcp6 | grep -c ':1E61 ' > /listen2.txt; true
EOF
cat >"$c/Steps.dockerfile" <<EOF
FROM busybox:1
RUN --network=host wget -q -O- http://127.0.0.1:$port/canary.txt > /host.txt 2>&1; true
RUN --network=none tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /none.txt
RUN --network=default wget -q -O- http://127.0.0.1:$port/canary.txt > /default.txt 2>&1; true
EOF

for mode in builder root; do
	KILN_BUILD_AS=$mode
	KILN_ROOT=$T/store-$mode
	build_setup
	say "$mode: the default network cannot reach the host's loopback or abstract sockets"
	kb --no-cache -t def:1 "$c"
	r=$(unpack def:1)
	! grep -q "$canary" "$r/loopback.txt" ||
		fail "$mode: RUN fetched the host's 127.0.0.1:$port: $(cat "$r/loopback.txt")"
	expect_eq "$(cat "$r/abstract.txt")" 0 "$mode: the host's abstract socket is not visible"
	expect_contains " $(cat "$r/ifs.txt")" " lo " "$mode: default network has lo"
	[ "$(cat "$r/ifs.txt")" != "lo " ] || fail "$mode: default network has no interface but lo"
	expect_contains "$(cat "$r/resolv.txt")" "nameserver 169.254.1.1" "$mode: pasta's DNS forwarder"
	expect_contains "$(cat "$r/hosts.txt")" "localhost" "$mode: /etc/hosts"

	say "$mode: a step's listening socket is gone when the next step runs"
	kb --no-cache -t reuse:1 -f "$c/Reuse.dockerfile" "$c"
	r=$(unpack reuse:1)
	expect_eq "$(cat "$r/listen1.txt")" 1 "$mode: the step sees its own listener"
	expect_eq "$(cat "$r/listen2.txt")" 0 "$mode: the next step sees no listener"

	say "$mode: --network=host reaches them (as docker build --network=host)"
	kb --no-cache -t host:1 --network=host "$c"
	r=$(unpack host:1)
	expect_eq "$(cat "$r/loopback.txt")" "$canary" "$mode: --network=host reaches 127.0.0.1:$port"
	expect_eq "$(cat "$r/abstract.txt")" 1 "$mode: --network=host sees the abstract socket"

	say "$mode: --network=none has only lo"
	kb --no-cache -t none:1 --network=none "$c"
	expect_eq "$(cat "$(unpack none:1)/ifs.txt")" "lo " "$mode: --network=none"

	say "$mode: RUN --network=host|none|default per step"
	kb_fail --no-cache -t steps:1 -f "$c/Steps.dockerfile" "$c"
	expect_contains "$(cat "$T/log")" "Steps.dockerfile:2" "$mode: RUN --network=host refused: the line"
	expect_contains "$(cat "$T/log")" "--allow network.host" "$mode: RUN --network=host refused: the fix"
	kb --no-cache -t steps:1 --allow network.host -f "$c/Steps.dockerfile" "$c"
	r=$(unpack steps:1)
	expect_eq "$(cat "$r/host.txt")" "$canary" "$mode: RUN --network=host"
	expect_eq "$(cat "$r/none.txt")" "lo" "$mode: RUN --network=none"
	! grep -q "$canary" "$r/default.txt" || fail "$mode: RUN --network=default reached the host"

	if [ "$archive" = yes ]; then
		say "$mode: outbound to deb.debian.org through the default network"
		kb --no-cache -t online:1 -f "$c/Online.dockerfile" "$c"
		expect_eq "$(cat "$(unpack online:1)/release.txt")" "Origin: Debian" \
			"$mode: the Debian archive through pasta"
	fi
done

say "no helper in PATH: a clear error, and --network=host|none still work"
mkdir "$T/nohelper" "$T/slirp-only"
KILN_BUILD_AS=root
KILN_ROOT=$T/store-root
set +e
(cd "$T" && env PATH="$T/nohelper" "$KILN" build --progress=plain --no-cache "$c") >"$T/out" 2>"$T/log"
rc=$?
set -e
expect_eq "$rc" 1 "no helper: exit status"
expect_contains "$(cat "$T/log")" "needs pasta or slirp4netns" "no helper: the error"
expect_contains "$(cat "$T/log")" "apt-get install passt" "no helper: the fix"
(cd "$T" && env PATH="$T/nohelper" "$KILN" build -q --no-cache --network=host "$c") >/dev/null 2>"$T/log" ||
	fail "no helper, --network=host: $(cat "$T/log")"
(cd "$T" && env PATH="$T/nohelper" "$KILN" build -q --no-cache --network=none "$c") >/dev/null 2>"$T/log" ||
	fail "no helper, --network=none: $(cat "$T/log")"

say "slirp4netns when there is no pasta"
ln -s "$(command -v slirp4netns)" "$T/slirp-only/slirp4netns"
(cd "$T" && env PATH="$T/slirp-only" "$KILN" build -q --no-cache -t slirp:1 "$c") >/dev/null 2>"$T/log" ||
	fail "slirp4netns: $(cat "$T/log")"
r=$(unpack slirp:1)
! grep -q "$canary" "$r/loopback.txt" || fail "slirp4netns: RUN fetched the host's 127.0.0.1:$port"
expect_eq "$(cat "$r/abstract.txt")" 0 "slirp4netns: the abstract socket is not visible"
expect_contains "$(cat "$r/resolv.txt")" "nameserver 10.0.2.3" "slirp4netns: its DNS forwarder"
if [ "$archive" = yes ]; then
	(cd "$T" && env PATH="$T/slirp-only" "$KILN" build -q --no-cache -t slirpon:1 \
		-f "$c/Online.dockerfile" "$c") >/dev/null 2>"$T/log" || fail "slirp4netns online: $(cat "$T/log")"
	expect_eq "$(cat "$(unpack slirpon:1)/release.txt")" "Origin: Debian" "slirp4netns: the archive"
fi

say "kill -9 of kiln during a RUN leaves no pasta behind"
KILN_BUILD_AS=builder
KILN_ROOT=$T/store-builder
marker="kiln-net-sleep-$$"
k=$(ctx kill)
printf 'FROM busybox:1\nRUN sh -c "sleep 30; echo %s"\n' "$marker" >"$k/Dockerfile"
own_ctx
as_runner "$KILN" build --no-cache "$k" >/dev/null 2>&1 &
build_pid=$!
for i in $(seq 100); do pgrep -f "echo $marker" >/dev/null && break; sleep 0.1; done
# the oldest: the sandbox's own processes are forks of kiln, with its command line
kpid=$(pgrep -o -u "$KILN_TEST_USER" -f "^$KILN build --no-cache $k\$")
[ -n "$kpid" ] || fail "kiln is not running"
helpers=$(pgrep -P "$kpid" -f "pasta --runas" | tr '\n' ' ')
[ -n "$helpers" ] || fail "no pasta under kiln $kpid: $(ps -o pid,ppid,args --ppid "$kpid")"
kill -9 "$kpid"
for i in $(seq 50); do
	alive=
	for h in $helpers; do ! kill -0 "$h" 2>/dev/null || alive="$alive $h"; done
	[ -n "$alive" ] || break
	sleep 0.1
done
[ -z "$alive" ] || fail "pasta survived kill -9 of kiln: $(ps -o pid,ppid,args -p "${alive# }")"
wait "$build_pid" || true

[ "$archive" = yes ] || skip "deb.debian.org is unreachable from this host: outbound not tested"
say "ok"
