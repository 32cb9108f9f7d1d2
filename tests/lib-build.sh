# Helpers for the `kiln build` end-to-end tests (tests/t05NN-*.sh), sourced after
# tests/lib.sh. Each test gets its own store in $T/store holding busybox:1.
#   build_setup             import the busybox base into $KILN_ROOT (as builder, or as
#                           root when KILN_BUILD_AS=root)
#   ctx DIR                 make a build context $T/c/DIR (given to the builder
#                           before each build)
#   kb ARGS...              kiln build as the builder (or root), stdout/stderr kept in
#                           $T/out and $T/log; fails the test when the build fails
#   kb_fail ARGS...         the same, expecting exit 1 (message in $T/log)
#   kr ARGS...              any kiln command as the builder (or root); its output is
#                           the caller's (kr images, kr build --progress=json ... 2>F)
#   steps_cached, steps_run the texts of the steps $T/log reports CACHED, or DONE
#   cfg NAME JQ             a jq query on the raw config blob (skopeo inspect --config --raw)
#   unpack NAME             umoci unpack as root into $T/u-NAME; prints the rootfs path
#   prun NAME [ARGS...]     podman run as the builder (or root); prints the output
need_cmd umoci podman runc skopeo jq

KILN_BUILD_AS=${KILN_BUILD_AS:-builder}
export KILN_ROOT="$T/store"

as_runner() {
	if [ "$KILN_BUILD_AS" = root ]; then
		(cd "$T" && "$@")
	else
		as_builder env KILN_ROOT="$KILN_ROOT" "$@"
	fi
}

build_setup() {
	[ "$KILN_BUILD_AS" != root ] || need_root
	as_runner "$KILN" import "$(busybox_rootfs_tar)" busybox:1 >/dev/null
}

ctx() {
	mkdir -p "$T/c/$1"
	echo "$T/c/$1"
}

# the contexts belong to the user who builds
own_ctx() {
	[ "$(id -u)" = 0 ] && [ "$KILN_BUILD_AS" != root ] && [ -d "$T/c" ] &&
		chown -R "$KILN_TEST_USER": "$T/c" || true
}

# kb ARGS...: run `kiln build --progress=plain ARGS...`; a failure ends the test.
kb() {
	own_ctx
	as_runner "$KILN" build --progress=plain "$@" >"$T/out" 2>"$T/log" ||
		fail "kiln build $*: $(cat "$T/log")"
}

kb_fail() {
	own_ctx
	set +e
	as_runner "$KILN" build --progress=plain "$@" >"$T/out" 2>"$T/log"
	rc=$?
	set -e
	[ "$rc" = 1 ] || fail "kiln build $*: expected exit 1, got $rc: $(cat "$T/log")"
}

kr() {
	own_ctx
	as_runner "$KILN" "$@"
}

# "#3 [2/5] RUN make" ... "#3 CACHED": the texts of the steps reported CACHED, one a line
steps_cached() {
	awk '/^#[0-9]+ \[/ {id=$1; sub(/^#[0-9]+ \[[^]]*\] /, ""); text[id]=$0}
	     /^#[0-9]+ CACHED$/ {print text[$1]}' "$T/log"
}

# ...and those that ran (DONE)
steps_run() {
	awk '/^#[0-9]+ \[/ {id=$1; sub(/^#[0-9]+ \[[^]]*\] /, ""); text[id]=$0}
	     /^#[0-9]+ DONE/ {print text[$1]}' "$T/log"
}

cfg() {
	skopeo inspect --config --raw "oci:$KILN_ROOT:$1" | jq -cS "$2"
}

unpack() {
	rm -rf "$T/u-$1"
	umoci unpack --image "$KILN_ROOT:$1" "$T/u-$1" >/dev/null || fail "umoci unpack $1"
	echo "$T/u-$1/rootfs"
}

prun() {
	n=$1
	shift
	if [ "$KILN_BUILD_AS" = root ]; then
		# a storage of its own, so root's podman images do not pile up
		podman --root "$T/podman" --runroot "$T/podman-run" --storage-driver vfs \
			--runtime runc run -q --rm --network none --ulimit nofile=1024:1024 \
			--ulimit nproc=1024:1024 "oci:$KILN_ROOT:$n" "$@" >"$T/.prun" 2>&1 ||
			fail "podman run $n $*: $(cat "$T/.prun")"
	else
		as_builder podman --runtime runc run -q --rm --network none "oci:$KILN_ROOT:$n" \
			"$@" >"$T/.prun" 2>&1 || fail "podman run $n $*: $(cat "$T/.prun")"
	fi
	# podman's own warnings ("/" is not a shared mount) are not the container's
	grep -v '^time=.* level=warning' "$T/.prun" || true
}

# The store's state: the image list and index.json, to compare before/after.
store_state() {
	as_runner "$KILN" images --no-trunc --format "{{.Repository}}:{{.Tag}} {{.ID}} {{.CreatedAt}} {{.Size}}"
	cat "$KILN_ROOT/index.json"
}

# store NAME: use the store $T/NAME (KILN_ROOT), made on first use with the same
# busybox:1 in each, imported under SOURCE_DATE_EPOCH so every store's base is the
# same image (the cache-sharing tests t0542-t0544 build in several stores)
store() {
	export KILN_ROOT="$T/$1"
	[ -d "$KILN_ROOT" ] ||
		as_runner env SOURCE_DATE_EPOCH=1700000000 "$KILN" import "$(busybox_rootfs_tar)" \
			busybox:1 >/dev/null
}

# kbs NAME ARGS...: kb ARGS... in the store $T/NAME
kbs() {
	store "$1"
	shift
	kb "$@"
}
