#!/bin/sh
# What a RUN step holds, rootless and as real root, seen from inside: Docker's
# 14 capabilities (none in effect for another USER), seccomp in filter mode,
# no_new_privs, the command as pid 1, Docker's masked and read-only paths, no
# keyctl/mount/unshare; and what must keep working with that: chown, a setuid
# binary, setcap + getcap, ping (CAP_NET_RAW) with --network none.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
need_root
HELPER=$KILN_BUILD/sandbox/tests/escape-helper
[ -x "$HELPER" ] || fail "escape-helper is not built ($HELPER)"

# Docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID
# SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
docker_caps=00000000a80425fb

run_mode() {
	mode=$1
	KILN_BUILD_AS=$mode
	export KILN_ROOT="$T/store-$mode"
	build_setup
	c=$(ctx "privs-$mode")
	cp "$HELPER" "$c/escape-helper"
	cat >"$c/Dockerfile" <<'EOF'
FROM busybox:1
COPY escape-helper /h
RUN grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status \
    >/status; tr '\0' ' ' </proc/1/cmdline >/cmdline; echo $$ >/pid
RUN for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats \
    /proc/timer_stats; do [ ! -e $f ] || echo "$f $(cat $f | wc -c)"; done >/masked; \
    for d in /proc/acpi /proc/scsi /sys/firmware /sys/devices/virtual/powercap; do \
    [ ! -d $d ] || echo "$d $(ls -A $d | wc -l)"; done >>/masked
RUN for f in /proc/sys/kernel/hostname /proc/sysrq-trigger /sys/kernel/uevent_helper; do \
    (echo x >$f) 2>/dev/null && echo "$f writable"; done >/ro; \
    for d in /proc/bus /proc/fs /proc/irq /sys /sys/fs/cgroup; do \
    ! grep -q " $d " /proc/self/mountinfo || grep -q " $d ro[, ]" /proc/self/mountinfo || \
    echo "$d not read-only"; done >>/ro; \
    mkdir /sys/fs/cgroup/kiln-x 2>/dev/null && echo "mkdir in /sys/fs/cgroup worked" >>/ro; true
RUN /h syscalls /tmp >/syscalls; unshare -U true 2>/dev/null && echo "unshare -U: ok" >>/syscalls; \
    mount -t tmpfs x /mnt 2>/dev/null && echo "mount tmpfs: ok" >>/syscalls; true
RUN echo data >/owned && chown 1234:5678 /owned && cp /bin/busybox /bin/sx && chmod 4755 /bin/sx && \
    cp /bin/busybox /bin/pinger && /h setcap /bin/pinger
RUN /h getcap /bin/pinger >/getcap && ping -c1 -W2 127.0.0.1 >/ping
USER 1000:1000
RUN grep -E '^(CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status
EOF
	kb -t privs:1 --network none "$c"
	r=$(unpack privs:1)

	say "$mode: capabilities, seccomp, no_new_privs, pid 1"
	expect_eq "$(tr '\n\t' '  ' <"$r/status")" \
		"CapInh: 0000000000000000 CapPrm: $docker_caps CapEff: $docker_caps CapBnd: $docker_caps CapAmb: 0000000000000000 NoNewPrivs: 1 Seccomp: 2 " \
		"$mode: /proc/self/status of root in RUN"
	user=$(grep -E '^#[0-9]+ (Cap[A-Za-z]+|NoNewPrivs|Seccomp):' "$T/log" | sed 's/^#[0-9]* //' |
		tr '\n\t' '  ')
	expect_eq "$user" \
		"CapPrm: 0000000000000000 CapEff: 0000000000000000 CapBnd: $docker_caps CapAmb: 0000000000000000 NoNewPrivs: 1 Seccomp: 2 " \
		"$mode: /proc/self/status of USER 1000 in RUN"
	expect_eq "$(cat "$r/pid")" 1 "$mode: echo \$\$"
	expect_contains "$(cat "$r/cmdline")" "/bin/sh -c grep -E" "$mode: /proc/1/cmdline"

	say "$mode: masked and read-only paths"
	expect_eq "$(awk '$2 != 0' "$r/masked")" "" "$mode: masked paths not empty"
	expect_eq "$(cat "$r/ro")" "" "$mode: writable paths"

	# with the host's network, rootless /sys is the host's bound recursively
	c=$(ctx "sys-$mode")
	cat >"$c/Dockerfile" <<'EOF'
FROM busybox:1
RUN grep -E ' /sys(/[^ ]*)? ' /proc/self/mountinfo | awk '$6 !~ /^ro(,|$)/ { print "rw: " $5 }'; \
    grep -c ' /sys/fs/cgroup ' /proc/self/mountinfo; ! mkdir /sys/fs/cgroup/kiln-x 2>/dev/null
EOF
	kb --network host "$c"
	expect_eq "$(grep -c '^#[0-9]* rw: ' "$T/log")" 0 "$mode: a mount below /sys is writable: $(cat "$T/log")"

	say "$mode: keyctl, mount, unshare fail"
	expect_contains "$(cat "$r/syscalls")" "keyctl join: Operation not permitted" "$mode: keyctl"
	! grep ': ok$' "$r/syscalls" || fail "$mode: a syscall worked in RUN"

	say "$mode: chown, setuid, setcap + getcap, ping keep working"
	expect_eq "$(stat -c %u:%g "$r/owned")" 1234:5678 "$mode: chown in RUN"
	expect_eq "$(stat -c %a "$r/bin/sx")" 4755 "$mode: setuid binary in the layer"
	expect_eq "$(cat "$r/getcap")" "/bin/pinger cap_net_raw+ep" "$mode: getcap in the next RUN"
	expect_eq "$(getcap "$r/bin/pinger" | sed 's/ = /=/')" "$r/bin/pinger cap_net_raw=ep" \
		"$mode: security.capability in the layer"
	expect_contains "$(cat "$r/ping")" "1 packets received" "$mode: ping with --network none"
}

run_mode builder
run_mode root
