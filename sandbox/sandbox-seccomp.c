/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The seccomp filter of a RUN step (README.md, "How RUN is sandboxed"),
 * built with libseccomp in the parent and exported as a BPF program that the
 * child loads with one prctl() just before execve (sandbox-child.c).
 *
 * The aim is the effect of Docker's default profile for a RUN step without
 * CAP_SYS_ADMIN: what that profile refuses, this one refuses, with EPERM.
 * Our list is a deny list over a default of "allow", written from the
 * syscalls' man pages: what changes the kernel, the mount table, the
 * namespaces, the keyrings, or exposes kernel memory. clone3 fails with
 * ENOSYS, so glibc falls back to clone, whose flags we can inspect. The
 * native architecture and its 32-bit companions (i386 and x32 on x86_64) are
 * filtered alike; a syscall of any other architecture kills the process.
 */
#include <errno.h>
#include <linux/filter.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sandbox/sandbox-internal.h"
#include "util/error.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* Refused outright: EPERM, whatever the arguments. */
static const char *const denied[] = {
	/* keyrings: not namespaced; RUN gets a fresh session keyring and no more */
	"keyctl",
	"add_key",
	"request_key",
	/* the mount table: RUN has no CAP_SYS_ADMIN, as under docker build */
	"mount",
	"umount",
	"umount2",
	"pivot_root",
	"move_mount",
	"fsopen",
	"fsconfig",
	"fsmount",
	"fspick",
	"open_tree",
	"mount_setattr",
	/* namespaces */
	"setns",
	/* the kernel itself */
	"kexec_load",
	"kexec_file_load",
	"init_module",
	"finit_module",
	"delete_module",
	"create_module",
	"get_kernel_syms",
	"query_module",
	"reboot",
	"swapon",
	"swapoff",
	"syslog",
	"acct",
	"quotactl",
	"quotactl_fd",
	"nfsservctl",
	"_sysctl",
	"uselib",
	"lookup_dcookie",
	"bpf",
	"perf_event_open",
	"userfaultfd",
	"iopl",
	"ioperm",
	"vm86",
	"vm86old",
	"settimeofday",
	"stime",
	"clock_settime",
	"clock_adjtime",
	/* file handles bypass the mount namespace (the "shocker" escape) */
	"open_by_handle_at",
	"name_to_handle_at",
	/* other processes' memory placement and kernel objects (CAP_SYS_NICE, CAP_SYS_PTRACE) */
	"move_pages",
	"migrate_pages",
	"kcmp",
};

/* Every namespace flag of clone and unshare. */
static const unsigned long ns_flags[] = {
	CLONE_NEWNS,  CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET,
	CLONE_NEWUTS, CLONE_NEWIPC,  CLONE_NEWCGROUP, 0x00000080 /* CLONE_NEWTIME */,
};

static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
		const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0; /* not a syscall of this architecture */
	return seccomp_rule_add_array(ctx, action, nr, n, cmp);
}

/*
 * personality(2): Docker lets through Linux (0), PER_LINUX32 (8), UNAME26
 * (0x20000), both, and the query 0xffffffff. libseccomp takes one comparison
 * per argument and rule, so we refuse a value with any other bit set unless
 * it also has both bits 3 and 17 (the query does; so would 0x20008 with more
 * flags, which passes).
 */
#define PERSONALITY_KEEP ((1ul << 3) | (1ul << 17))

static int personality_rules(scmp_filter_ctx ctx)
{
	int r = 0;

	for (unsigned b = 0; r == 0 && b < 32; b++) {
		unsigned long bit = 1ul << b;

		if (bit & PERSONALITY_KEEP)
			continue;
		for (unsigned k = 0; r == 0 && k < 2; k++) {
			unsigned long keep = k ? 1ul << 17 : 1ul << 3;
			struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, bit | keep, bit);

			r = rule(ctx, SCMP_ACT_ERRNO(EPERM), "personality", 1, &c);
		}
	}
	return r;
}

static const unsigned long tty_ioctls[] = {TIOCSTI, TIOCLINUX};

static int add_rules(scmp_filter_ctx ctx)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(denied); i++)
		r = rule(ctx, SCMP_ACT_ERRNO(EPERM), denied[i], 0, NULL);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(ns_flags); i++) {
		struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]);

		r = rule(ctx, SCMP_ACT_ERRNO(EPERM), "unshare", 1, &c);
		if (r == 0)
			r = rule(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &c);
	}
	if (r == 0)
		r = rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
	if (r == 0)
		r = personality_rules(ctx);
	/* typing into a terminal (CVE-2017-5226) and the console's own ioctls */
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(tty_ioctls); i++) {
		struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffff, tty_ioctls[i]);

		r = rule(ctx, SCMP_ACT_ERRNO(EPERM), "ioctl", 1, &c);
	}
	return r;
}

static int add_arches(scmp_filter_ctx ctx)
{
#if defined(__x86_64__)
	static const uint32_t extra[] = {SCMP_ARCH_X86, SCMP_ARCH_X32};
#elif defined(__aarch64__)
	static const uint32_t extra[] = {SCMP_ARCH_ARM};
#else
	static const uint32_t extra[] = {SCMP_ARCH_NATIVE};
#endif
	for (size_t i = 0; i < ARRAY_SIZE(extra); i++) {
		int r = seccomp_arch_add(ctx, extra[i]);

		if (r < 0 && r != -EEXIST)
			return r;
	}
	return 0;
}

/* The BPF program of @ctx, read back through a memfd (libseccomp 2.5 exports to an fd). */
static int export_program(scmp_filter_ctx ctx, struct sock_fprog *ret)
{
	int fd = memfd_create("kiln-seccomp", MFD_CLOEXEC);
	off_t size;
	void *buf;
	int r;

	if (fd < 0)
		return -errno;
	r = seccomp_export_bpf(ctx, fd);
	size = r == 0 ? lseek(fd, 0, SEEK_END) : -1;
	if (r == 0 && (size <= 0 || size % (off_t)sizeof(struct sock_filter)))
		r = -EIO;
	if (r == 0) {
		buf = xmalloc((size_t)size);
		if (pread(fd, buf, (size_t)size, 0) != size) {
			free(buf);
			r = -EIO;
		} else {
			ret->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
			ret->filter = buf;
		}
	}
	close(fd);
	return r;
}

static struct sock_fprog program;
static int program_error;
static pthread_once_t program_once = PTHREAD_ONCE_INIT;

static void build_program(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx) {
		program_error = -ENOMEM;
		return;
	}
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0) /* libseccomp could not ask the kernel (valgrind): the thread, then */
		r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); /* the child sets it itself */
	if (r == 0)
		r = add_arches(ctx);
	if (r == 0)
		r = add_rules(ctx);
	if (r == 0)
		r = export_program(ctx, &program);
	seccomp_release(ctx);
	program_error = r;
	if (r == 0)
		log_debug("sandbox: seccomp filter of %u instructions", program.len);
}

int sandbox_seccomp_program(const struct sock_fprog **ret, struct kiln_error **err)
{
	pthread_once(&program_once, build_program);
	if (program_error < 0)
		return err_sys(err, -program_error, "sandbox: build the seccomp filter");
	*ret = &program;
	return 0;
}
