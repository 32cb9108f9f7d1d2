/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Shims for syscalls glibc 2.36 does not wrap. Each returns -1 and sets errno,
 * ENOSYS where the kernel headers do not know the syscall at all (crun).
 */
#include <errno.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int sys_openat2(int dirfd, const char *path, struct open_how *how, size_t size)
{
#ifdef SYS_openat2
	return (int)syscall(SYS_openat2, dirfd, path, how, size);
#else
	errno = ENOSYS;
	return -1;
#endif
}

static inline int sys_pidfd_open(pid_t pid, unsigned flags)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, flags);
#else
	errno = ENOSYS;
	return -1;
#endif
}
