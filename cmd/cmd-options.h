/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * A command's options, each with its help text: the one table its getopt_long
 * arrays, its `kiln help` Options section, the shell completion and the man
 * page check (tests/t0556-cli-options.sh) are all made from.
 */
#include <getopt.h>
#include <stdbool.h>

struct strbuf;

struct cmd_option {
	const char *name; /* the long name, without "--" */
	int short_name; /* the letter of -x, or 0 */
	int has_arg; /* no_argument, required_argument or optional_argument */
	int val; /* what getopt_long returns for it: the letter, or an OPT_* value */
	const char *arg; /* the argument as the help names it ("NAME[:TAG]"), or NULL */
	/* The help: lines separated by '\n' (kept under 80 columns by the author). */
	const char *help;
};

/* Ends a table. */
#define CMD_OPTION_END                    \
	{                                 \
		NULL, 0, 0, 0, NULL, NULL \
	}

/* getopt_long's two arguments, made from a table. */
struct cmd_getopt {
	struct option *longopts;
	char *shortopts; /* ":" first, so that a missing value is ':' */
};

void cmd_getopt_init(struct cmd_getopt *g, const struct cmd_option *opts);
void cmd_getopt_release(struct cmd_getopt *g);
/* The "Options:" section of `kiln help`: one entry per option, help at column 29. */
void cmd_options_help(const struct cmd_option *opts, struct strbuf *out);
