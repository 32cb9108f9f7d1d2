#!/bin/sh
# RUN --mount: cache mounts persist across builds and never reach a layer;
# bind mounts see the context read-only (rw writes are thrown away); tmpfs;
# secrets reach the step but no blob, config, history or cache key; ssh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd umoci python3
build_setup

c=$(ctx mounts)
mkdir -p "$c/src"
echo ctx-file >"$c/src/input.txt"
secret="s3cr3t-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s' "$secret" >"$T/secret.txt"
chmod 0644 "$T/secret.txt"
cat >"$c/Dockerfile" <<'EOF2'
FROM busybox:1
RUN --mount=type=cache,target=/var/cache/app \
    n=$(cat /var/cache/app/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /var/cache/app/count; \
    echo "cache count $n" > /cache-count; echo "build $RANDOM" > /stamp
RUN --mount=type=bind,source=src,target=/mnt/src \
    cat /mnt/src/input.txt > /from-bind && ! touch /mnt/src/new 2>/dev/null
RUN --mount=type=bind,source=src,target=/mnt/rw,rw \
    echo scribble > /mnt/rw/input.txt && cat /mnt/rw/input.txt > /rw-seen
RUN --mount=type=tmpfs,target=/scratch,size=1m \
    echo hi > /scratch/x && df /scratch | tail -1 | awk '{print $2}' > /tmpfs-size
RUN --mount=type=secret,id=token \
    test "$(cat /run/secrets/token)" = "$(cat /run/secrets/token)" && \
    wc -c < /run/secrets/token > /secret-len && ls -l /run/secrets/token | awk '{print $1}' > /secret-mode
RUN --mount=type=secret,id=token,env=TOKEN \
    test -n "$TOKEN" && echo "${#TOKEN}" > /secret-env-len
EOF2
chown -R "$KILN_TEST_USER": "$c" "$T/secret.txt"

kb -t m:1 --secret "id=token,src=$T/secret.txt" "$c"
umoci unpack --image "$KILN_ROOT:m:1" "$T/u" >/dev/null
r=$T/u/rootfs
expect_eq "$(cat "$r/cache-count")" "cache count 1" "first cache mount use"
[ ! -e "$r/var/cache/app/count" ] || fail "the cache mount's content leaked into the image"
expect_eq "$(cat "$r/from-bind")" ctx-file "bind mount content"
[ ! -e "$c/src/new" ] || fail "a read-only bind mount was written"
expect_eq "$(cat "$r/rw-seen")" scribble "rw bind mount write seen by the step"
expect_eq "$(cat "$c/src/input.txt")" ctx-file "rw bind mount must not change the context"
[ ! -e "$r/mnt/rw/input.txt" ] || fail "a bind mount's content leaked into the image"
expect_eq "$(cat "$r/tmpfs-size")" 1024 "tmpfs size= (1k blocks)"
[ ! -e "$r/scratch/x" ] || fail "tmpfs content leaked into the image"
expect_eq "$(tr -d ' ' <"$r/secret-len")" "${#secret}" "secret file length"
expect_eq "$(cat "$r/secret-env-len")" "${#secret}" "secret env length"
[ ! -e "$r/run/secrets/token" ] || fail "the secret file leaked into the image"

# the secret is in no blob, no cache entry, no config and no history
if grep -rqa -- "$secret" "$KILN_ROOT"; then
	fail "the secret's value was found in the store: $(grep -rla -- "$secret" "$KILN_ROOT")"
fi
for b in "$KILN_ROOT"/blobs/sha256/*; do
	if gzip -t "$b" 2>/dev/null && gzip -dc "$b" | grep -qa -- "$secret"; then
		fail "the secret is inside the layer $b"
	fi
done

# the cache mount persists: a forced rerun of the first RUN sees count 2
kb -t m:2 --no-cache --secret "id=token,src=$T/secret.txt" "$c"
umoci unpack --image "$KILN_ROOT:m:2" "$T/u2" >/dev/null
expect_eq "$(cat "$T/u2/rootfs/cache-count")" "cache count 2" "cache mount kept across builds"

# a changed bind source misses the cache from that step
echo ctx-file-2 >"$c/src/input.txt"
kb -t m:3 --secret "id=token,src=$T/secret.txt" "$c"
steps_run | grep -q 'source=src,target=/mnt/src' || fail "a changed bind source did not rerun the step"
steps_cached | grep -q 'type=cache' || fail "the step before the bind change should be cached"

# a required secret that is not given fails, naming it
cat >"$c/Dockerfile" <<'EOF2'
FROM busybox:1
RUN --mount=type=secret,id=missing,required=true cat /run/secrets/missing
EOF2
expect_fail 1 "secret 'missing' is required" kr build "$c"
# an unknown --mount option is an input error naming it
cat >"$c/Dockerfile" <<'EOF2'
FROM busybox:1
RUN --mount=type=cache,target=/x,bogus=1 true
EOF2
expect_fail 1 "--mount: unexpected key 'bogus'" kr build "$c"

# ssh: the agent socket is mounted and SSH_AUTH_SOCK points at it
sock=$T/agent.sock
python3 -c "import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); time.sleep(30)" "$sock" &
spid=$!
stop_agent() { kill "$spid" 2>/dev/null || true; }
add_cleanup stop_agent
i=0; while [ ! -S "$sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
chown "$KILN_TEST_USER" "$sock"
cat >"$c/Dockerfile" <<'EOF2'
FROM busybox:1
RUN --mount=type=ssh test -S "$SSH_AUTH_SOCK" && echo "$SSH_AUTH_SOCK" > /ssh-sock
EOF2
kb -t s:1 --ssh "default=$sock" "$c"
expect_fail 1 "no SSH agent 'default' was given" kr build --no-cache "$c"
