# Sourced by every end-to-end test (tests/tNNNN-*.sh). It runs the real kiln
# binary; nothing is mocked. Conventions:
#   as_builder CMD...  run CMD as the unprivileged user `builder` (rootless)
#   kiln ARGS...       the kiln under test, as the current user
#   skip REASON        exit 77, or fail when KILN_TEST_MUST_WORK=1 (CI)
#   expect_* ...       assertions; the first failure ends the test with exit 1
# Each test gets a fresh directory $T (readable by builder), removed at exit.
set -eu

: "${KILN:?KILN must point at the kiln binary (meson sets it)}"
: "${KILN_SRC:?KILN_SRC must point at the source tree}"
KILN_BUILD=${KILN_BUILD:-$(dirname "$KILN")}
KILN_TEST_USER=${KILN_TEST_USER:-builder}
export KILN KILN_SRC KILN_BUILD
export KILN_CONFORMANCE_DIR=${KILN_CONFORMANCE_DIR:-$KILN_SRC/../shared/conformance}
export PATH=$KILN_SRC/tests/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

test_name=$(basename "$0" .sh)
# lower case only: podman refuses upper case in the path of an oci: image
T=${TMPDIR:-/tmp}/kiln-$test_name.$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
mkdir -m 0755 "$T"
cleanups=""
at_exit() {
	for c in $cleanups; do "$c" || true; done
	rm -rf "$T" 2>/dev/null || { chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"; } || true
}
trap at_exit EXIT
add_cleanup() { cleanups="$1 $cleanups"; }

say() { printf '# %s\n' "$*"; }

skip() {
	if [ "${KILN_TEST_MUST_WORK:-0}" = 1 ]; then
		echo "FAIL: $test_name cannot run here and KILN_TEST_MUST_WORK=1: $*" >&2
		exit 1
	fi
	echo "SKIP: $test_name: $*" >&2
	exit 77
}

fail() {
	echo "FAIL: $test_name: $*" >&2
	exit 1
}

kiln() { "$KILN" "$@"; }

# Run as the unprivileged test user, with its own HOME and XDG dirs, in $T.
as_builder() {
	if [ "$(id -u)" != 0 ]; then
		"$@"
		return
	fi
	if ! id "$KILN_TEST_USER" >/dev/null 2>&1 || ! grep -q "^$KILN_TEST_USER:" /etc/subuid; then
		flock /tmp/kiln-setup-builder.lock sh "$KILN_SRC/tests/setup-builder.sh" >&2
	fi
	chown "$KILN_TEST_USER:" "$T"
	uid=$(id -u "$KILN_TEST_USER")
	(cd "$T" && runuser -u "$KILN_TEST_USER" -- env HOME="$T/home" \
		XDG_RUNTIME_DIR="/run/user/$uid" XDG_DATA_HOME="$T/home/.local/share" \
		XDG_CONFIG_HOME="$T/home/.config" KILN="$KILN" "$@")
}

need_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
need_cmd() {
	for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip "'$c' is not installed"; done
}

expect_eq() { # expect_eq ACTUAL EXPECTED [WHAT]
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"
}

expect_contains() { # expect_contains HAYSTACK NEEDLE [WHAT]
	case "$1" in *"$2"*) ;; *) fail "${3:-output}: expected to contain '$2', got: $1" ;; esac
}

# expect_fail STATUS STDERR-SUBSTRING CMD...: CMD must exit with STATUS and say so.
expect_fail() {
	want=$1 pat=$2
	shift 2
	set +e
	"$@" >"$T/.out" 2>"$T/.err"
	got=$?
	set -e
	[ "$got" = "$want" ] || fail "'$*': expected exit $want, got $got; stderr: $(cat "$T/.err")"
	grep -qF -- "$pat" "$T/.err" || fail "'$*': stderr lacks '$pat': $(cat "$T/.err")"
}

# The busybox base rootfs tarball, built once per build tree.
busybox_rootfs_tar() {
	f=$KILN_BUILD/testdata/busybox-rootfs.tar
	if ! [ -f "$f" ]; then
		mkdir -p "$KILN_BUILD/testdata"
		flock "$KILN_BUILD/testdata/.lock" sh -c \
			"[ -f '$f' ] || '$KILN_SRC/testdata/make-busybox-rootfs.sh' '$f'" >&2
	fi
	echo "$f"
}

# The same rootfs with Debian's arm64 busybox-static (tools/install-deps downloads
# the package to /var/cache/kiln-test), built once per build tree; skips without it.
busybox_arm64_rootfs_tar() {
	f=$KILN_BUILD/testdata/busybox-arm64-rootfs.tar
	if ! [ -f "$f" ]; then
		deb=$(ls /var/cache/kiln-test/busybox-static_*_arm64.deb 2>/dev/null | head -n 1)
		[ -n "$deb" ] || skip "no arm64 busybox-static package (run tools/install-deps)"
		mkdir -p "$KILN_BUILD/testdata"
		flock "$KILN_BUILD/testdata/.lock" sh -c "[ -f '$f' ] || {
			rm -rf '$f.x' && dpkg-deb -x '$deb' '$f.x' &&
			BUSYBOX='$f.x/bin/busybox' BUSYBOX_APPLETS=/bin/busybox \
				'$KILN_SRC/testdata/make-busybox-rootfs.sh' '$f' && rm -rf '$f.x'; }" >&2
	fi
	echo "$f"
}

# A throwaway registry (Debian's docker-registry) on 127.0.0.1:$REGISTRY_PORT.
registry_start() {
	need_cmd docker-registry curl
	REGISTRY_PORT=${REGISTRY_PORT:-$((20000 + $$ % 20000))}
	mkdir -p "$T/registry"
	cat >"$T/registry/config.yml" <<CFG
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $T/registry/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
${REGISTRY_EXTRA_CONFIG:-}
CFG
	docker-registry serve "$T/registry/config.yml" >"$T/registry/log" 2>&1 &
	REGISTRY_PID=$!
	add_cleanup registry_stop
	i=0
	until curl -ksS -o /dev/null "${REGISTRY_SCHEME:-http}://127.0.0.1:$REGISTRY_PORT/v2/" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "registry did not start: $(cat "$T/registry/log")"
		sleep 0.1
	done
	REGISTRY=127.0.0.1:$REGISTRY_PORT
}

registry_stop() {
	[ -n "${REGISTRY_PID:-}" ] || return 0
	kill "$REGISTRY_PID" 2>/dev/null || true
	wait "$REGISTRY_PID" 2>/dev/null || true
	REGISTRY_PID=
}

# --- registry extras (TLS, htpasswd, token auth), for tests/t04NN-*.sh ---

# The registry-probe test client (registry/tests/registry-probe.c).
probe() { "$KILN_BUILD/registry/tests/registry-probe" "$@"; }

# A CA and a server certificate for 127.0.0.1 in $T/tls; sets REGISTRY_TLS_CONFIG
# (an http.tls section for REGISTRY_EXTRA_CONFIG) and REGISTRY_SCHEME=https.
registry_tls_setup() {
	need_cmd openssl
	d=$T/tls
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kiln test CA" \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
		-CAcreateserial -days 2 -extfile "$d/ext" -out "$d/server.crt" 2>/dev/null
	chmod 0644 "$d"/*
	REGISTRY_TLS_CONFIG="  tls:
    certificate: $d/server.crt
    key: $d/server.key"
	REGISTRY_SCHEME=https
}

# An htpasswd file (bcrypt, as the registry requires) with USER:PASS; prints
# the auth section for REGISTRY_EXTRA_CONFIG.
registry_htpasswd() {
	need_cmd htpasswd
	htpasswd -Bbn "$1" "$2" >"$T/htpasswd"
	printf 'auth:\n  htpasswd:\n    realm: kiln-test\n    path: %s\n' "$T/htpasswd"
}

# Restart the registry with the same configuration and storage.
registry_restart() {
	registry_stop
	docker-registry serve "$T/registry/config.yml" >>"$T/registry/log" 2>&1 &
	REGISTRY_PID=$!
	i=0
	until curl -ksS -o /dev/null "${REGISTRY_SCHEME:-http}://127.0.0.1:$REGISTRY_PORT/v2/" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "registry did not restart: $(tail -5 "$T/registry/log")"
		sleep 0.1
	done
}

# A token server (tests/registry-token-server.py) on 127.0.0.1:$TOKEN_PORT that
# grants USER:PASS; sets TOKEN_AUTH_CONFIG, the auth section for REGISTRY_EXTRA_CONFIG.
token_server_start() {
	need_cmd python3 openssl
	REGISTRY_PORT=${REGISTRY_PORT:-$((20000 + $$ % 20000))}
	TOKEN_PORT=$((REGISTRY_PORT + 1))
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kiln token signer" \
		-keyout "$T/token.key" -out "$T/token.crt" 2>/dev/null
	python3 "$KILN_SRC/tests/registry-token-server.py" "$TOKEN_PORT" "$T/token.key" \
		"$T/token.crt" "$1" "$2" "$T/token.log" 2>>"$T/token.log" &
	TOKEN_PID=$!
	add_cleanup token_server_stop
	i=0
	until curl -sS -o /dev/null "http://127.0.0.1:$TOKEN_PORT/token" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "token server did not start: $(cat "$T/token.log")"
		sleep 0.1
	done
	TOKEN_AUTH_CONFIG="auth:
  token:
    realm: http://127.0.0.1:$TOKEN_PORT/token
    service: kiln-test-registry
    issuer: kiln-test-issuer
    rootcertbundle: $T/token.crt"
}

token_server_stop() {
	[ -n "${TOKEN_PID:-}" ] || return 0
	kill "$TOKEN_PID" 2>/dev/null || true
	wait "$TOKEN_PID" 2>/dev/null || true
	TOKEN_PID=
}
