# Registry helpers for end-to-end tests (the t04NN family, and any test that pulls
# or pushes), sourced after tests/lib.sh. Everything is real: Debian's
# docker-registry on 127.0.0.1, openssl certificates, a token server in python3.
#   registry_start          a throwaway registry on 127.0.0.1:$REGISTRY_PORT ($REGISTRY);
#                           REGISTRY_EXTRA_CONFIG adds to its config, REGISTRY_SCHEME=https
#                           after registry_tls_setup; stopped at exit
#   registry_stop, registry_restart   the same configuration and storage again
#   registry_tls_setup      a CA and a certificate for 127.0.0.1 in $T/tls
#   registry_htpasswd U P   basic auth: prints the auth section for REGISTRY_EXTRA_CONFIG
#   token_server_start U P  token auth (tests/registry-token-server.py): TOKEN_AUTH_CONFIG
#   probe ARGS...           registry/tests/registry-probe, the client without kiln around it
#   registry_log_has ERE    wait (5 s at most) for a line of the registry's log to match

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

# The registry logs a request once it has answered it: wait for the line.
registry_log_has() {
	i=0
	until grep -qE -- "$1" "$T/registry/log"; do
		i=$((i + 1))
		[ $i -lt 50 ] || return 1
		sleep 0.1
	done
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
