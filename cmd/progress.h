/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdio.h>

#include "builder/builder.h"

enum progress_mode {
	PROGRESS_AUTO,
	PROGRESS_TTY,
	PROGRESS_PLAIN,
	PROGRESS_JSON,
	PROGRESS_QUIET,
};

int progress_parse_mode(const char *s, enum progress_mode *ret);

/* Renders build events to @out (stderr) in one of the modes; see progress.c. */
struct progress;
struct progress *progress_new(enum progress_mode mode, FILE *out);
void progress_events(struct progress *p, struct build_events *ret);
/* The mode in use (PROGRESS_AUTO resolved to tty or plain). */
enum progress_mode progress_get_mode(const struct progress *p);
/* Redraw or flush at the end of the build. */
void progress_finish(struct progress *p, bool ok);
void progress_free(struct progress *p);
