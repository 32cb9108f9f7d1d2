/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parent's half of a RUN step's privileges (README.md, "How RUN is
 * sandboxed"): the user namespace the child enters after its mounts, Docker's
 * default capabilities, the seccomp filter, and Docker's masked and read-only
 * paths in /proc and /sys. sandbox-child.c applies them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"
#include "util/error.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* Docker's default set for a container (and so for a RUN step), no more. */
static const unsigned default_caps[] = {
	CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,	     CAP_FOWNER,
	CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,	     CAP_SETUID,
	CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
	CAP_KILL,    CAP_AUDIT_WRITE,
};

/* Docker's masked paths: empty to RUN. */
static const char *const masked[] = {
	"/proc/acpi",	     "/proc/kcore",
	"/proc/keys",	     "/proc/latency_stats",
	"/proc/timer_list",  "/proc/timer_stats",
	"/proc/sched_debug", "/proc/scsi",
	"/sys/firmware",     "/sys/devices/virtual/powercap",
};

/* Docker's read-only paths. */
static const char *const readonly[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/*
 * The map of the step's user namespace: every id we have, to itself. So the
 * step sees the ids kiln sees: 0..65535 rootless, all of them as real root.
 */
char *sandbox_identity_map(const char *path, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf in = STRBUF_INIT, out = STRBUF_INIT;
	char *save = NULL;
	int r = strbuf_read_file(&in, AT_FDCWD, path, err);

	if (r < 0)
		return NULL;
	for (char *l = strtok_r(in.buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long inside, outside, count;

		if (sscanf(l, "%lu %lu %lu", &inside, &outside, &count) == 3)
			strbuf_addf(&out, "%lu %lu %lu\n", inside, inside, count);
	}
	if (!out.len) {
		err_new(err, KILN_ERR_SYSTEM, EINVAL, "sandbox: '%s' maps no id", path);
		return NULL;
	}
	return strbuf_detach(&out, NULL);
}

static unsigned read_cap_last(void)
{
	char buf[16] = "";
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	unsigned v = CAP_LAST_CAP;

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) > 0 && sscanf(buf, "%u", &v) != 1)
			v = CAP_LAST_CAP;
		close(fd);
	}
	return v < 64 ? v : 63;
}

int sandbox_plan_privileges(struct sandbox_plan *p, const struct sandbox_spec *spec,
			    struct kiln_error **err)
{
	static unsigned cap_last;

	p->new_userns = true;
	/*
	 * --network none: the namespace made at clone (so that /sys shows it)
	 * belongs to kiln's user namespace, where RUN's CAP_NET_RAW does not
	 * count; a second one, made with the step's, has a loopback where ping
	 * works as under docker build.
	 */
	p->own_netns = spec->network == SANDBOX_NETWORK_NONE;
	p->uid_map = sandbox_identity_map("/proc/self/uid_map", err);
	if (!p->uid_map)
		return -1;
	p->gid_map = sandbox_identity_map("/proc/self/gid_map", err);
	if (!p->gid_map)
		return -1;
	if (!cap_last)
		cap_last = read_cap_last();
	p->cap_last = cap_last;
	p->caps = 0;
	if (spec->insecure) {
		/* RUN --security=insecure, allowed by the user: every capability, no filter */
		for (unsigned c = 0; c <= cap_last && c < 64; c++)
			p->caps |= UINT64_C(1) << c;
		p->seccomp = NULL;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
		p->caps |= UINT64_C(1) << default_caps[i];
	return sandbox_seccomp_program(&p->seccomp, err);
}

/* Masked and read-only paths, once /proc and /sys are mounted. */
void sandbox_plan_masks(struct sandbox_plan *p)
{
	struct sandbox_op *op;

	for (size_t i = 0; i < ARRAY_SIZE(masked); i++) {
		op = sandbox_plan_add_op(p, SOP_MASK_IN, masked[i],
					 xasprintf("mask '%s'", masked[i]));
		op->source = "/dev/null";
	}
	for (size_t i = 0; i < ARRAY_SIZE(readonly); i++)
		sandbox_plan_add_op(p, SOP_READONLY_IN, readonly[i],
				    xasprintf("make '%s' read-only", readonly[i]));
}

/* What kiln is permitted: a container's own bounding set may lack some of Docker's. */
uint64_t sandbox_permitted_caps(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};

	if (syscall(SYS_capget, &h, d) < 0)
		return 0;
	return (uint64_t)d[0].permitted | (uint64_t)d[1].permitted << 32;
}
