#!/bin/sh
# Create the unprivileged user the end-to-end tests run kiln as (root only):
# `builder`, with a 65536-id range in /etc/subuid and /etc/subgid so that
# newuidmap/newgidmap can map the whole 0-65535 range, and a runtime dir.
# Safe to run more than once.
set -eu
user=${KILN_TEST_USER:-builder}
if [ "$(id -u)" != 0 ]; then
	echo "setup-builder.sh: must run as root" >&2
	exit 1
fi
if ! id "$user" >/dev/null 2>&1; then
	useradd --create-home --shell /bin/sh "$user"
fi
for f in /etc/subuid /etc/subgid; do
	touch "$f"
	grep -q "^$user:" "$f" || echo "$user:200000:65536" >>"$f"
done
uid=$(id -u "$user")
mkdir -p "/run/user/$uid"
chown "$user:" "/run/user/$uid"
chmod 0700 "/run/user/$uid"
