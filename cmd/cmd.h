/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "builder/builder.h"
#include "cmd/cmd-options.h"
#include "util/error.h"

/*
 * One subcommand. @fn gets argv with argv[0] the command name and returns >= 0
 * (the exit status) or a negative value with *err set; cmd/main.c prints the
 * error once and maps it to exit status 1, or 2 for KILN_ERR_USAGE.
 */
struct kiln_command {
	const char *name;
	int (*fn)(int argc, char **argv, struct kiln_error **err);
	const char *summary;
	/* the help text of `kiln help NAME`; without @options, all of it */
	const char *usage;
	/* the command's option table (cmd-options.h), printed after @usage as "Options:" */
	const struct cmd_option *options;
};

extern const struct kiln_command kiln_commands[];
extern const size_t kiln_n_commands;

const struct kiln_command *cmd_find(const char *name);
/* Prints the command's usage to stdout. */
void cmd_print_usage(const struct kiln_command *c);
/* Parse --help anywhere in argv: true when the caller should print usage and exit 0. */
int cmd_wants_help(int argc, char **argv);

int cmd_help(int argc, char **argv, struct kiln_error **err);
int cmd_version(int argc, char **argv, struct kiln_error **err);
int cmd_check(int argc, char **argv, struct kiln_error **err);
int cmd_parse(int argc, char **argv, struct kiln_error **err);
int cmd_build(int argc, char **argv, struct kiln_error **err);
/* The option tables of the commands that have one (kiln_command.options). */
extern const struct cmd_option cmd_build_options[], cmd_images_options[], cmd_history_options[],
	cmd_check_options[], cmd_parse_options[], cmd_info_options[], cmd_login_options[],
	cmd_logout_options[], cmd_inspect_options[], cmd_tag_options[], cmd_rmi_options[],
	cmd_fsck_options[], cmd_prune_options[], cmd_import_options[], cmd_save_options[],
	cmd_load_options[], cmd_pull_options[], cmd_push_options[], cmd_run_options[];
int cmd_run(int argc, char **argv, struct kiln_error **err);
int cmd_completion(int argc, char **argv, struct kiln_error **err);
int cmd_info(int argc, char **argv, struct kiln_error **err);
int cmd_manifest(int argc, char **argv, struct kiln_error **err);

/* A group's subcommands ("kiln image ls"): argv[1] picks one, which gets argv + 1. */
struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv, struct kiln_error **err);
};
int cmd_dispatch(const char *group, const struct subcommand *subs, size_t n, int argc, char **argv,
		 struct kiln_error **err);
/* Read the Dockerfile at @path, or stdin for "-" (cmd-parse.c). */
struct strbuf;
int cmd_read_dockerfile(const char *path, struct strbuf *sb, struct kiln_error **err);

/* --network default|host|none (and docker's "bridge") for kiln build and kiln run */
int cmd_parse_network(const char *v, enum build_network *ret, struct kiln_error **err);
