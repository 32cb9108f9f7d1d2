#!/bin/sh
# RUN on a root filesystem with no /dev, /proc, /sys or /etc (FROM scratch and a
# static busybox), rootless and as root. The step's layer keeps what BuildKit
# keeps (moby/buildkit#3455: the directories runc made for /dev, /proc and
# /sys stay; the stubs of its own bind mounts, /etc/hosts and
# /etc/resolv.conf with the /etc made for them, go): dev/, proc/ and sys/,
# empty, 0755, root's, plus what the step wrote. A second RUN adds nothing.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
need_root
[ -x /bin/busybox ] || skip "busybox-static is not installed"

# layer N (1-based, negative from the end) of image NAME: its entries, sorted
layer() {
	d=$(skopeo inspect --raw "oci:$KILN_ROOT:$1" | jq -r ".layers[$2].digest")
	tar -tzvf "$KILN_ROOT/blobs/sha256/${d#sha256:}" |
		awk '{ print $1, $2, $NF }' | sed 's| \./| |; s|/$||' | sort
}

run_mode() {
	mode=$1
	KILN_BUILD_AS=$mode
	export KILN_ROOT="$T/store-$mode"
	build_setup
	c=$(ctx "scratch-$mode")
	cp /bin/busybox "$c/busybox"
	cat >"$c/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "true"]
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir /out && echo hi >/out/f && /bin/busybox cat /etc/hosts >/dev/null"]
RUN ["/bin/busybox", "true"]
EOF
	kb -t scratch:1 "$c"
	say "$mode: the first RUN's layer holds dev/, proc/, sys/ and nothing else"
	expect_eq "$(layer scratch:1 1 | tr '\n' ';')" \
		"drwxr-xr-x 0/0 dev;drwxr-xr-x 0/0 proc;drwxr-xr-x 0/0 sys;" "$mode: layer of RUN true"
	say "$mode: the next RUN's layer holds what it wrote, no /etc"
	expect_eq "$(layer scratch:1 2 | tr '\n' ';')" \
		"-rw-r--r-- 0/0 out/f;drwxr-xr-x 0/0 out;" "$mode: layer of the RUN that writes"
	expect_eq "$(skopeo inspect --raw "oci:$KILN_ROOT:scratch:1" | jq '.layers | length')" 3 \
		"$mode: layers (a RUN true on top adds none, as an empty layer)"
	say "$mode: RUN true gives the same layer when built again (#3455)"
	l1=$(skopeo inspect --raw "oci:$KILN_ROOT:scratch:1" | jq -r '.layers[1].digest')
	sleep 1
	kb --no-cache -t scratch:2 "$c"
	expect_eq "$(skopeo inspect --raw "oci:$KILN_ROOT:scratch:2" | jq -r '.layers[1].digest')" \
		"$l1" "$mode: digest of the RUN true layer in a rebuild"
}

run_mode builder
run_mode root
