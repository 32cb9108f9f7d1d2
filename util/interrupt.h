/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <sys/types.h>

struct kiln_error;

/*
 * SIGINT, SIGTERM and SIGHUP stop kiln cleanly: the handler only notes the
 * signal and wakes a watcher thread through a pipe (the self-pipe trick);
 * the watcher kills the processes of running steps; the code at work sees
 * interrupt_check() fail, removes what it was making on the way out, and
 * cmd/ exits with 128 + the signal. A second signal kills kiln at once (what
 * it leaves in the store's tmp/ is swept later: store_sweep_tmp()).
 */

/* Catch the three signals, each unless it was ignored when kiln started (nohup, `cmd &`). */
void interrupt_install(void);
/* The signal that interrupted kiln, or 0. */
int interrupt_signal(void);
/* 0, or -EINTR with "interrupted by SIGINT" in *err. */
int interrupt_check(struct kiln_error **err);
/*
 * SIGKILL @pid (a step's pid 1: the kill takes its whole pid namespace) as soon
 * as kiln is interrupted, or now if it already was. Returns a handle for
 * interrupt_forget_child(), which must be called before @pid is reaped.
 */
int interrupt_watch_child(pid_t pid);
void interrupt_forget_child(int handle);
