/* SPDX-License-Identifier: Apache-2.0 */
/*
 * escape-helper: the syscalls an escaping RUN step would try, for the attack
 * tests (tests/t0305-sandbox-escape.sh). Linked statically, so it runs in any
 * rootfs (the busybox base has no keyctl, no bpf). Not installed.
 *
 *   escape-helper tiocsti          TIOCSTI on fds 0-2 and /dev/tty
 *   escape-helper session          "sid=S pid=P" and what fd 0 is
 *   escape-helper syscalls DIR     keyctl, add_key, request_key, unshare, mount, bpf, ...
 *   escape-helper memdump PID      every readable writable mapping of /proc/PID/mem
 *   escape-helper setcap FILE      give FILE cap_net_raw+ep, as `setcap cap_net_raw+ep`
 *   escape-helper getcap FILE      "FILE cap_net_raw+ep" when it has that
 *   escape-helper chroot FILE      the classic chroot escape (chroot into a
 *                                  subdirectory, chdir .. past the old root,
 *                                  chroot .), then print FILE's first line
 *   escape-helper ptrace           attach to the parent (kiln in chroot isolation)
 *
 * Each attempt prints one line "NAME: ok" or "NAME: <error>"; a test asserts
 * that no line says "ok".
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/banned.h"

static void report(const char *what, long r)
{
	if (r < 0)
		printf("%s: %s\n", what, strerror(errno));
	else
		printf("%s: ok\n", what);
	fflush(stdout);
}

/* Type "kiln-tiocsti-typed" and a newline into the terminal behind @fd. */
static long inject(int fd)
{
	static const char text[] = "kiln-tiocsti-typed\n";

	for (size_t i = 0; i < sizeof(text) - 1; i++)
		if (ioctl(fd, TIOCSTI, &text[i]) < 0)
			return -1;
	return 0;
}

static int tiocsti(void)
{
	int tty;

	for (int fd = 0; fd < 3; fd++) {
		char what[32];

		snprintf(what, sizeof(what), "tiocsti fd %d", fd);
		report(what, inject(fd));
	}
	tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	report("open /dev/tty", tty);
	if (tty >= 0)
		report("tiocsti /dev/tty", inject(tty));
	return 0;
}

static int session(void)
{
	char buf[256];
	ssize_t n = readlink("/proc/self/fd/0", buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	printf("sid=%ld pid=%ld\n", (long)getsid(0), (long)getpid());
	printf("stdin=%s\n", buf);
	return 0;
}

static int syscalls(const char *dir)
{
	char dev[4096];

	report("keyctl join", syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL));
	report("add_key", syscall(SYS_add_key, "user", "kiln", "x", 1, -3 /* session */));
	report("request_key", syscall(SYS_request_key, "user", "kiln", NULL, 0));
	report("mount tmpfs", mount("tmpfs", dir, "tmpfs", 0, NULL));
	snprintf(dev, sizeof(dev), "%s/blk", dir);
	report("mknod block 8:0", mknod(dev, S_IFBLK | 0600, makedev(8, 0)));
	report("mknod block 254:0", mknod(dev, S_IFBLK | 0600, makedev(254, 0)));
	report("bpf", syscall(SYS_bpf, 0, NULL, 0));
	report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
	report("userfaultfd", syscall(SYS_userfaultfd, 0));
	report("personality",
	       personality(0x0040000 /* ADDR_NO_RANDOMIZE */ | PER_LINUX) < 0 ? -1 : 0);
	report("unshare user", unshare(CLONE_NEWUSER));
	report("unshare mount", unshare(CLONE_NEWNS));
	report("clone newuser",
	       syscall(SYS_clone, CLONE_NEWUSER, NULL, NULL, NULL, NULL) == 0 ? (_exit(0), 0) : -1);
	return 0;
}

static int memdump(const char *pid)
{
	char path[64], line[512];
	FILE *maps;
	int mem;

	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	maps = fopen(path, "re");
	snprintf(path, sizeof(path), "/proc/%s/mem", pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	if (!maps || mem < 0) {
		fprintf(stderr, "memdump: %s: %s\n", path, strerror(errno));
		return 0;
	}
	while (fgets(line, sizeof(line), maps)) {
		unsigned long start, end;
		char perms[8];
		static char buf[65536];

		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3 || perms[0] != 'r' ||
		    perms[1] != 'w')
			continue;
		for (unsigned long a = start; a < end; a += sizeof(buf)) {
			ssize_t n = pread(mem, buf, sizeof(buf), (off_t)a);

			if (n > 0)
				fwrite(buf, 1, (size_t)n, stdout);
		}
	}
	return 0;
}

/* The security.capability value of `setcap cap_net_raw+ep` (VFS_CAP_REVISION_2). */
static int setcap(const char *file)
{
	uint32_t v[5] = {0x02000000 | 1 /* effective */, 1u << 13 /* CAP_NET_RAW */, 0, 0, 0};

	report("setcap", setxattr(file, "security.capability", v, sizeof(v), 0));
	return 0;
}

static int getcap(const char *file)
{
	uint32_t v[6] = {0};
	ssize_t n = getxattr(file, "security.capability", v, sizeof(v));

	if (n < 0) {
		printf("%s: %s\n", file, strerror(errno));
		return 1;
	}
	printf("%s%s%s\n", file, (v[1] & (1u << 13)) ? " cap_net_raw+" : " ?",
	       (v[0] & 1) ? "ep" : "p");
	return 0;
}

static int chroot_escape(const char *file)
{
	char line[256] = "";
	FILE *f;

	(void)mkdir("/.escape", 0700);
	report("chroot", chroot("/.escape"));
	for (int i = 0; i < 64; i++)
		(void)chdir("..");
	report("chroot .", chroot("."));
	f = fopen(file, "re");
	report("open", f ? 0 : -1);
	if (f && fgets(line, sizeof(line), f))
		printf("read: %s", line);
	if (f)
		fclose(f);
	return 0;
}

static int ptrace_parent(void)
{
	long r = syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, (long)getppid(), 0L, 0L);

	report("ptrace", r);
	if (r == 0)
		(void)syscall(SYS_ptrace, 17 /* PTRACE_DETACH */, (long)getppid(), 0L, 0L);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "chroot"))
		return chroot_escape(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "ptrace"))
		return ptrace_parent();
	if (argc == 2 && !strcmp(argv[1], "tiocsti"))
		return tiocsti();
	if (argc == 2 && !strcmp(argv[1], "session"))
		return session();
	if (argc == 3 && !strcmp(argv[1], "syscalls"))
		return syscalls(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "memdump"))
		return memdump(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "setcap"))
		return setcap(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "getcap"))
		return getcap(argv[2]);
	fprintf(stderr,
		"usage: escape-helper tiocsti|session|syscalls DIR|memdump PID|setcap FILE|getcap FILE\n");
	return 2;
}
