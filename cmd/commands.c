/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "kiln-config.h"
#include "util/macro.h"

#include "util/banned.h"

/*
 * The table of subcommands (crun's commands[]). A command is listed here only
 * once it works end to end.
 */
const struct kiln_command kiln_commands[] = {
	{"help", cmd_help, "show help for kiln or for one command",
	 "usage: kiln help [COMMAND]\n"
	 "\n"
	 "Without COMMAND, list the commands. With it, show that command's options.\n"},
	{"version", cmd_version, "print kiln's version",
	 "usage: kiln version\n"
	 "\n"
	 "Print the version of kiln, like `kiln --version`.\n"},
	{"check", cmd_check, "report every error and warning in a Dockerfile",
	 "usage: kiln check [-f DOCKERFILE] [CONTEXT]\n"
	 "\n"
	 "Parse DOCKERFILE (default: CONTEXT/Dockerfile, else CONTEXT/Containerfile; - for\n"
	 "stdin) and its ignore file (DOCKERFILE.dockerignore, else CONTEXT/.dockerignore)\n"
	 "without building, and print every error and warning as FILE:LINE:COL with the\n"
	 "source line, like `docker build --check`. CONTEXT defaults to the current\n"
	 "directory. Exit status 1 when there is an error; warnings alone exit 0.\n"
	 "A `# check=skip=Rule1,Rule2` (or skip=all) directive silences warnings, and\n"
	 "`# check=error=true` makes them fail the check.\n"
	 "\n"
	 "Options:\n"
	 "  -f, --file DOCKERFILE  the Dockerfile to check\n"},
	{"parse", cmd_parse, "print a Dockerfile's syntax tree",
	 "usage: kiln parse [--format=buildkit|json] FILE\n"
	 "\n"
	 "Parse FILE (- for stdin) and print its syntax tree on stdout.\n"
	 "\n"
	 "Options:\n"
	 "  --format=json      (default) the parsed and checked instructions as JSON, one\n"
	 "                     object per instruction (see kiln(1))\n"
	 "  --format=buildkit  the syntax layer only, printed exactly like the `result`\n"
	 "                     files of BuildKit's parser tests\n"},
};

const size_t kiln_n_commands = ARRAY_SIZE(kiln_commands);

const struct kiln_command *cmd_find(const char *name)
{
	for (size_t i = 0; i < kiln_n_commands; i++)
		if (streq(kiln_commands[i].name, name))
			return &kiln_commands[i];
	return NULL;
}

void cmd_print_usage(const struct kiln_command *c)
{
	fputs(c->usage, stdout);
}

int cmd_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--"))
			break;
		if (streq(argv[i], "--help") || streq(argv[i], "-h"))
			return 1;
	}
	return 0;
}

int cmd_version(int argc, char **argv, struct kiln_error **err)
{
	if (argc > 1)
		return err_usage(err, "version: unexpected argument '%s'", argv[1]);
	printf("kiln %s\n", KILN_VERSION);
	return 0;
}
