/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd-registry.h"
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
	{"login", cmd_login, "log in to a registry (stores credentials in auth.json)",
	 "usage: kiln login [-u USER] [-p PASSWORD | --password-stdin] [OPTIONS] REGISTRY\n"
	 "\n"
	 "Check USER's password against REGISTRY (e.g. quay.io, 127.0.0.1:5000) and store\n"
	 "it in $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json (the file\n"
	 "podman and skopeo read), written atomically with mode 0600.\n"
	 "\n"
	 "  -u, --username USER   the user name (asked for on a terminal when missing)\n"
	 "  -p, --password PASS   the password (visible to other users: prefer --password-stdin)\n"
	 "  --password-stdin      read the password from standard input\n"
	 "  --authfile FILE       the credentials file to write\n"
	 "  --tls-verify=false    do not verify the registry's TLS certificate\n"
	 "  --cert-file FILE      trust the CA certificates in FILE (PEM)\n"},
	{"logout", cmd_logout, "remove stored credentials for a registry",
	 "usage: kiln logout [--authfile FILE] REGISTRY | --all\n"
	 "\n"
	 "Remove REGISTRY's entry from the credentials file kiln login writes, or the\n"
	 "whole file with --all.\n"},
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
