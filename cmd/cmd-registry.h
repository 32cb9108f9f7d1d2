/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Options shared by pull, push, login and logout (cmd-login.c). */
#include <stdbool.h>

#include "registry/registry.h"

struct kiln_error;

/* getopt_long values for the shared options; each command lists the ones it takes. */
enum {
	OPT_TLS_VERIFY = 0x100,
	OPT_CERT_FILE,
	OPT_AUTHFILE,
	OPT_CREDS,
	OPT_PLATFORM,
	OPT_PASSWORD_STDIN,
	OPT_ALL,
	OPT_QUIET,
	OPT_PULL_FLAG_LAST,
};

struct cmd_registry_opts {
	struct registry_opts reg;
	char *creds; /* "USER[:PASSWORD]", owned */
	bool quiet;
	struct cmd_progress_view *view; /* the live view on a terminal, or NULL */
};

/* Handle one shared option; 1 when it was one, 0 when not, < 0 on a bad value. */
int cmd_registry_option(struct cmd_registry_opts *o, const char *cmd, int opt, const char *arg,
			struct kiln_error **err);
void cmd_registry_opts_release(struct cmd_registry_opts *o);
/* "https://host/v1/" or "host/ns" or "host": the registry host, malloc'd. */
char *cmd_registry_domain(const char *arg);
/*
 * The progress renderer for pull and push (cmd-pull-push.c), on stderr: on a
 * terminal, one live line per blob; otherwise one line per blob event.
 */
void cmd_registry_progress(void *userdata, enum registry_event ev, const char *digest,
			   uint64_t done, uint64_t total);

struct store;
/* Take pull's registry options (--tls-verify, --platform, ...) out of argv. */
int cmd_pull_registry_args(int *argc, char **argv, struct kiln_error **err);
/* The registry transport of kiln pull (docker://REF and bare references). */
int cmd_pull_registry(struct store *s, const char *ref, const char *name, struct kiln_error **err);
int cmd_push(int argc, char **argv, struct kiln_error **err);
int cmd_login(int argc, char **argv, struct kiln_error **err);
int cmd_logout(int argc, char **argv, struct kiln_error **err);
