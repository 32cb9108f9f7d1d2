#!/bin/sh
# /etc/passwd and /etc/group of an image are read only when they are regular files of at
# most 1 MiB: a FIFO cannot hang a build, a sparse 1 GiB file is not read into memory,
# and a symlink is resolved inside the image. A name then fails clearly, a number works.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd /usr/bin/time

build_setup
d=$(ctx base)
printf 'FROM busybox:1\nRUN rm /etc/passwd && mkfifo /etc/passwd && rm /etc/group && mkfifo /etc/group\n' >"$d/Dockerfile"
kb -t fifo:1 "$d"
printf 'FROM busybox:1\nRUN rm /etc/passwd && truncate -s 1G /etc/passwd\n' >"$d/Dockerfile"
kb -t sparse:1 "$d"
printf 'FROM busybox:1\nRUN rm /etc/passwd && ln -s ../../../../../../../../etc/passwd /etc/passwd\n' >"$d/Dockerfile"
kb -t link:1 "$d"

a=$(ctx app)
echo hi >"$a/f"
# try BASE EXPECT PATTERN LINES...: a build of FROM BASE + LINES, within 30 s
try() {
	base=$1 want=$2 pat=$3
	shift 3
	{ echo "FROM $base"; printf '%s\n' "$@"; } >"$a/Dockerfile"
	own_ctx
	set +e
	as_runner /usr/bin/time -f 'maxrss %M' timeout 30 "$KILN" build --progress=plain --no-cache "$a" \
		>"$T/out" 2>"$T/log"
	rc=$?
	set -e
	[ "$rc" = "$want" ] || fail "FROM $base $*: expected exit $want, got $rc: $(cat "$T/log")"
	[ -z "$pat" ] || grep -qF -- "$pat" "$T/log" || fail "FROM $base $*: stderr lacks '$pat': $(cat "$T/log")"
	rss=$(sed -n 's/^maxrss //p' "$T/log")
	[ "$rss" -lt 200000 ] || fail "FROM $base $*: kiln used $rss kB"
}

say "a FIFO /etc/passwd and /etc/group"
try fifo:1 0 "" "RUN true"
try fifo:1 1 "'/etc/passwd' is not a regular file" "USER someone" "RUN true"
# (not id(1): it would read the FIFO itself)
try fifo:1 0 "" "USER 1000:1000" "RUN grep -qE '^Uid:\s+1000\s' /proc/self/status && grep -qE '^Gid:\s+1000\s' /proc/self/status"
try fifo:1 1 "'/etc/passwd' is not a regular file" "COPY --chown=someone f /f"
try fifo:1 1 "'/etc/group' is not a regular file" "COPY --chown=0:staff f /f"
try fifo:1 0 "" "COPY --chown=1:2 f /f"

say "a sparse 1 GiB /etc/passwd"
try sparse:1 0 "" "RUN true"
try sparse:1 1 "'/etc/passwd' is larger than 1048576 bytes" "USER someone" "RUN true"
try sparse:1 0 "" "USER 1000" "RUN grep -qE '^Uid:\s+1000\s' /proc/self/status"

say "an /etc/passwd symlink that points out of the image"
try link:1 1 "unable to find user 'builder'" "USER builder" "RUN true"
