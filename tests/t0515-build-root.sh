#!/bin/sh
# A subset of the build tests as real root (no user namespace): ownership kept
# as is, USER and --chown, heredocs, whiteouts, --network none, the sandbox's
# view of the host, a failing RUN and a missing COPY source leaving the store
# as it was, and podman running the image.
. "$(dirname "$0")/lib.sh"
KILN_BUILD_AS=root
. "$KILN_SRC/tests/lib-build.sh"
build_setup

c=$(ctx root)
echo data >"$c/data.txt"
mkdir "$c/tree" && echo t >"$c/tree/f" && ln -s f "$c/tree/link"
chown 777:888 "$c/tree/f"
cat >"$c/Dockerfile" <<'EOF'
FROM busybox:1
RUN echo 'app:x:1234:2345::/home/app:/bin/sh' >> /etc/passwd && \
    echo 'appgrp:x:2345:' >> /etc/group && echo 'extra:x:5555:app' >> /etc/group && \
    mkdir /gone && touch /gone/x
RUN rm -r /gone && chown 4242:4343 /etc/group && ! mknod /dev-null-copy c 1 3 2>/dev/null && \
    ls /root > /root-ls.txt && test ! -e /work/HELPERS-COMMON.md && \
    tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /net.txt && \
    ls /sys/class/net > /sys-net.txt && ! touch /sys/kernel/x 2>/dev/null
COPY tree /tree
COPY --chown=app:appgrp --chmod=640 data.txt /owned
COPY <<EOT /hd
heredoc as root
EOT
USER app
RUN id > /tmp/id.txt && cat /tmp/id.txt
USER root
RUN cp /tmp/id.txt /id.txt
WORKDIR /srv
CMD ["sh", "-c", "cat /hd; id -u; pwd"]
EOF
kb -t root:1 --network none "$c"

r=$(unpack root:1)
[ ! -e "$r/gone" ] || fail "whiteout: /gone is in the image"
expect_eq "$(stat -c %u:%g "$r/etc/group")" 4242:4343 "chown in RUN as root"
# as under docker build with userns-remap: RUN has its own user namespace, where
# the kernel refuses device nodes (no device cgroup would stop a block device)
[ ! -e "$r/dev-null-copy" ] || fail "mknod of a device worked as root"
expect_eq "$(cat "$r/root-ls.txt")" "" "the host's /root in RUN"
expect_eq "$(cat "$r/net.txt")" lo "--network none"
expect_eq "$(cat "$r/sys-net.txt")" lo "--network none: a read-only /sys of its own"
expect_eq "$(stat -c %u:%g "$r/tree/f")" 0:0 "COPY without --chown: root-owned, like Docker"
expect_eq "$(readlink "$r/tree/link")" f "a context symlink stays a symlink"
expect_eq "$(stat -c %u:%g:%a "$r/owned")" 1234:2345:640 "--chown=app:appgrp --chmod=640"
expect_eq "$(cat "$r/hd")" "heredoc as root" "COPY <<EOT"
expect_contains "$(cat "$r/id.txt")" "uid=1234(app) gid=2345(appgrp) groups=2345(appgrp),5555(extra)" "USER app in RUN"
out=$(prun root:1)
expect_eq "$out" "heredoc as root
0
/srv" "podman run as root"

# failures leave the store as it was
store_state >"$T/before"
printf 'FROM busybox:1\nRUN touch /x\nRUN false\n' >"$c/Dockerfile"
kb_fail -t root:1 "$c"
grep -q "step 3/3" "$T/log" || fail "the failing step is not named: $(cat "$T/log")"
printf 'FROM busybox:1\nRUN touch /y\nCOPY nope.txt /\n' >"$c/Dockerfile"
kb_fail -t root:1 "$c"
grep -q "nope.txt" "$T/log" || fail "the missing source is not named: $(cat "$T/log")"
store_state >"$T/after"
cmp -s "$T/before" "$T/after" || fail "failed builds changed the store: $(diff "$T/before" "$T/after")"
"$KILN" fsck >"$T/fsck" 2>&1 || fail "fsck: $(cat "$T/fsck")"
