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

# A Debian bookworm minbase made by mmdebstrap (plus gcc, libc6-dev and
# libcap2-bin, apt lists kept), cached in the build tree one per month; sets
# DEBIAN_BASE to its path. Skips when deb.debian.org cannot be reached.
debian_base_tar() {
	need_cmd mmdebstrap
	month=$(date -u +%Y%m)
	base=$KILN_BUILD/testdata/debian-bookworm-minbase-gcc-$month.tar
	mirror=${KILN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
	mkdir -p "$KILN_BUILD/testdata"
	exec 9>"$KILN_BUILD/testdata/.debian.lock" # t0606 and t0607 may run side by side
	flock 9
	if ! [ -f "$base" ]; then
		curl -fsS -o /dev/null --max-time 20 "$mirror/dists/bookworm/Release" ||
			skip "cannot reach $mirror"
		rm -rf "$KILN_BUILD"/testdata/debian-bookworm-minbase-gcc-*.tar "$base.tmp"
		say "making $base with mmdebstrap"
		# rootless (unshare mode, as the test user): no mount on the host's
		# side that a busy /proc could leave behind
		mkdir -p "$T/mm"
		chown "$KILN_TEST_USER:" "$T/mm"
		as_builder env TMPDIR="$T/mm" mmdebstrap --quiet --format=tar --variant=minbase \
			--mode=unshare --include=gcc,libc6-dev,libcap2-bin --skip=cleanup/apt/lists \
			bookworm "$T/mm/base.tar" "$mirror" || fail "mmdebstrap failed"
		mv "$T/mm/base.tar" "$base.tmp"
		chown 0:0 "$base.tmp"
		mv "$base.tmp" "$base"
	fi
	flock -u 9
	DEBIAN_BASE=$base
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

# The registry helpers are tests/lib-registry.sh's, the RUN sandbox's tests/lib-sandbox.sh's:
# a test sources what it uses. For a test written before the split, the first call of
# one of the registry's entry points loads lib-registry.sh, which replaces these.
for f in registry_start registry_tls_setup registry_htpasswd token_server_start probe; do
	eval "$f() { . \"\$KILN_SRC/tests/lib-registry.sh\"; $f \"\$@\"; }"
done
