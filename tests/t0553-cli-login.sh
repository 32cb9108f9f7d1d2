#!/bin/sh
# kiln login / logout / push as a docker user types them: --username=U and -u U
# anywhere on the line, Docker Hub as the default registry (stored under
# docker's key "https://index.docker.io/v1/"), the password asked for on a real
# terminal without echo, and push naming docker.io/NAME. A local registry with
# htpasswd stands in for a private one; Docker Hub itself is not reachable here.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
need_cmd python3 jq
registry_tls_setup
REGISTRY_EXTRA_CONFIG="$REGISTRY_TLS_CONFIG
$(registry_htpasswd alice 's3cret-Pw')"
registry_start
R=$REGISTRY
A=$T/auth.json
export REGISTRY_AUTH_FILE=$A DOCKER_CONFIG=$T/docker HOME=$T/home
C="--cert-file $T/tls/ca.crt"

say "--username=U, and options after the registry"
echo 's3cret-Pw' | kiln login $C --username=alice --password-stdin "$R" >"$T/out"
expect_eq "$(jq -r ".auths[\"$R\"].auth" "$A" | base64 -d)" "alice:s3cret-Pw" "--username= stored"
kiln logout "$R" >/dev/null
echo 's3cret-Pw' | kiln login "$R" $C -u alice --password-stdin >"$T/out"
expect_eq "$(jq -r ".auths[\"$R\"].auth" "$A" | base64 -d)" "alice:s3cret-Pw" "-u after REGISTRY"
kiln logout "$R" >/dev/null
expect_fail 2 "login: option '-u' needs an argument" kiln login "$R" -u

say "the password is asked for on a terminal, without echo"
python3 - "$KILN" "$R" "$T/tls/ca.crt" >"$T/tty.out" <<'PY' || fail "tty login: $(cat "$T/tty.out")"
import os, pty, sys, time
kiln, reg, ca = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(kiln, [kiln, "login", "--cert-file", ca, "-u", "alice", reg])
out = b""
def read_until(want):
    global out
    deadline = time.time() + 20
    while want not in out:
        assert time.time() < deadline, out
        try:
            out += os.read(fd, 1024)
        except OSError:
            break
read_until(b"Password: ")
time.sleep(0.2)  # the prompt is printed before echo goes off: let it go off
os.write(fd, b"s3cret-Pw\n")
read_until(b"Login Succeeded")
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode())
assert os.waitstatus_to_exitcode(status) == 0, status
assert b"s3cret-Pw" not in out, "the password was echoed"
PY
expect_contains "$(cat "$T/tty.out")" "Login Succeeded"
expect_eq "$(jq -r ".auths[\"$R\"].auth" "$A" | base64 -d)" "alice:s3cret-Pw" "tty login stored"
expect_fail 2 "no terminal to ask on" kiln login -u alice "$R" </dev/null

say "push of a local registry name with the stored login"
export KILN_ROOT=$T/store
kiln import "$(busybox_rootfs_tar)" bb:1 >/dev/null
kiln push $C bb:1 "$R/team/bb:1" >"$T/out" 2>"$T/err"
expect_contains "$(cat "$T/err")" "The push refers to repository [$R/team/bb]"
kiln logout "$R" >/dev/null

say "no registry: Docker Hub, as docker"
rm -f "$A"
echo pw | kiln login --username=alice --password-stdin >"$T/out" 2>"$T/err" && fail "login to Docker Hub cannot succeed offline"
grep -q "login to 'docker.io'" "$T/err" || fail "default registry not docker.io: $(cat "$T/err")"
[ ! -e "$A" ] || fail "a failed login wrote $A"
# logout's default is Docker Hub too, whichever key holds it
printf '{"auths":{"https://index.docker.io/v1/":{"auth":"%s"},"%s":{"auth":"eDp5"}}}' \
	"$(printf alice:pw | base64)" "$R" >"$A"
expect_eq "$(kiln logout)" "Removed login credentials for docker.io" "logout default"
expect_eq "$(jq -c '.auths | keys' "$A")" "[\"$R\"]" "only Docker Hub's entry removed"
printf '{"auths":{"docker.io":{"auth":"%s"}}}' "$(printf alice:pw | base64)" >"$A"
expect_eq "$(kiln logout docker.io)" "Removed login credentials for docker.io" "logout docker.io"
expect_fail 1 "not logged in to 'docker.io'" kiln logout

say "push NAME for a Docker Hub name says docker.io/NAME"
kiln tag bb:1 user/containerofcats >/dev/null
set +e
kiln push user/containerofcats:latest >"$T/out" 2>"$T/err"
set -e
expect_contains "$(cat "$T/err")" "The push refers to repository [docker.io/user/containerofcats]"
kiln tag bb:1 cats >/dev/null
set +e
kiln push cats >"$T/out" 2>"$T/err"
set -e
expect_contains "$(cat "$T/err")" "The push refers to repository [docker.io/library/cats]"

say "Docker Hub's key, for real: registry-1.docker.io is this registry, in a mount namespace"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ss >/dev/null && [ -z "$(ss -Hltn 'sport = :443')" ]; then
	registry_stop
	d=$T/hub
	mkdir -p "$d"
	openssl req -newkey rsa:2048 -nodes -subj "/CN=registry-1.docker.io" \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
	printf 'subjectAltName=DNS:registry-1.docker.io\n' >"$d/ext"
	openssl x509 -req -in "$d/server.csr" -CA "$T/tls/ca.crt" -CAkey "$T/tls/ca.key" \
		-CAcreateserial -days 2 -extfile "$d/ext" -out "$d/server.crt" 2>/dev/null
	REGISTRY_PORT=443
	REGISTRY_EXTRA_CONFIG="  tls:
    certificate: $d/server.crt
    key: $d/server.key
$(registry_htpasswd alice 's3cret-Pw')"
	# docker-registry takes REGISTRY_* variables as its configuration
	unset REGISTRY_AUTH_FILE
	registry_start
	export REGISTRY_AUTH_FILE=$A
	printf '127.0.0.1 registry-1.docker.io\n' >"$d/hosts"
	rm -f "$A"
	echo 's3cret-Pw' | unshare -m sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$d/hosts" \
		"$KILN" login $C --username=alice --password-stdin >"$T/out" 2>"$T/err" ||
		fail "login to the stand-in Docker Hub: $(cat "$T/err")"
	expect_eq "$(jq -c '.auths | keys' "$A")" '["https://index.docker.io/v1/"]' "docker's key"
	expect_eq "$(jq -r '.auths["https://index.docker.io/v1/"].auth' "$A" | base64 -d)" "alice:s3cret-Pw" "Docker Hub entry"
	# a second login replaces it (no "docker.io" twin), and push uses it
	echo 's3cret-Pw' | unshare -m sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$d/hosts" \
		"$KILN" login $C -u alice --password-stdin docker.io >/dev/null 2>"$T/err" || fail "relogin: $(cat "$T/err")"
	expect_eq "$(jq -c '.auths | keys' "$A")" '["https://index.docker.io/v1/"]' "one Docker Hub entry"
	unshare -m sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$d/hosts" \
		"$KILN" push $C user/containerofcats:latest >"$T/out" 2>"$T/err" || fail "push to docker.io: $(cat "$T/err")"
	expect_contains "$(cat "$T/err")" "The push refers to repository [docker.io/user/containerofcats]"
	[ -d "$T/registry/storage/docker/registry/v2/repositories/user/containerofcats" ] || fail "not pushed"
	expect_eq "$(kiln logout)" "Removed login credentials for docker.io" "logout"
	expect_eq "$(jq -c '.auths' "$A")" '{}' "no entry left"
else
	say "skipped: needs root, unshare and a free port 443"
fi
