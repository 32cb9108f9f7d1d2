/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * systemd's cleanup vocabulary. Every helper keeps errno as it found it, so a
 * cleanup running on an error path does not clobber the error being reported.
 */
#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
	int saved = errno;

	free(*(void **)p);
	errno = saved;
}

static inline void closep(int *fd)
{
	int saved = errno;

	if (*fd >= 0)
		close(*fd);
	errno = saved;
}

static inline void fclosep(FILE **f)
{
	int saved = errno;

	if (*f)
		fclose(*f);
	errno = saved;
}

#define _cleanup_free_	 _cleanup_(freep)
#define _cleanup_close_	 _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                         \
	({                                  \
		__typeof__(p) p_tmp_ = (p); \
		(p) = NULL;                 \
		p_tmp_;                     \
	})

#define TAKE_FD(fd)                 \
	({                          \
		int fd_tmp_ = (fd); \
		(fd) = -1;          \
		fd_tmp_;            \
	})

/* Defines NAMEp(T **) calling func(*p) when it is not NULL; errno is preserved. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
	static inline void func##p(type *p)     \
	{                                       \
		int saved_ = errno;             \
		if (*p)                         \
			func(*p);               \
		errno = saved_;                 \
	}
