/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "kiln-config.h"
#include "util/interrupt.h"
#include "util/log.h"
#include "util/macro.h"

#include "util/banned.h"

static void print_main_usage(FILE *f)
{
	fputs("usage: kiln [--log-level LEVEL] COMMAND [ARGS...]\n"
	      "\n"
	      "kiln builds OCI container images from Dockerfiles, without a daemon and without root.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < kiln_n_commands; i++)
		fprintf(f, "  %-10s %s\n", kiln_commands[i].name, kiln_commands[i].summary);
	fputs("\n"
	      "Global options:\n"
	      "  --log-level LEVEL  error, warn (default), info or debug\n"
	      "  -h, --help         show this help; `kiln help COMMAND` for a command's options\n"
	      "  --version          print the version\n",
	      f);
}

int cmd_help(int argc, char **argv, struct kiln_error **err)
{
	const struct kiln_command *c;

	if (argc < 2) {
		print_main_usage(stdout);
		return 0;
	}
	if (argc > 2)
		return err_usage(err, "help: expected one command name, got %d", argc - 1);
	c = cmd_find(argv[1]);
	if (!c)
		return err_usage(err, "help: unknown command '%s' (see 'kiln help')", argv[1]);
	cmd_print_usage(c);
	return 0;
}

static int exit_status(const struct kiln_error *e)
{
	return e && e->kind == KILN_ERR_USAGE ? 2 : 1;
}

/* The one place an error is printed. */
static int report(struct kiln_error *e)
{
	int sig = interrupt_signal();
	char *s;

	if (sig) {
		/* what failed on the way out is the interrupt's doing: say only that */
		log_debug("interrupted: %s", e && e->msg ? e->msg : "");
		fprintf(stderr, "kiln: error: interrupted by SIG%s\n", sigabbrev_np(sig));
		return 128 + sig;
	}
	s = err_format(e);
	fprintf(stderr, "kiln: error: %s\n", s);
	free(s);
	return exit_status(e);
}

/*
 * The commands that stop cleanly on SIGINT, SIGTERM or SIGHUP, removing their
 * work in progress (util/interrupt.h). The others keep the default: they
 * write nothing that a kill leaves half done, wait on the user (login), or
 * write outside the store through a temporary name (save).
 */
static bool interruptible(const char *name)
{
	static const char *const names[] = {"build", "pull", "push", "import", "load", "run"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (streq(name, names[i]))
			return true;
	return false;
}

static int parse_global(int argc, char **argv, struct kiln_error **err)
{
	static const struct option opts[] = {
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{},
	};
	enum log_level level;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (log_parse_level(optarg, &level) < 0)
				return err_usage(
					err,
					"--log-level: expected error, warn, info or debug, got '%s'",
					optarg);
			log_set_level(level);
			break;
		case 'h':
			print_main_usage(stdout);
			exit(0);
		case 'V':
			printf("kiln %s\n", KILN_VERSION);
			exit(0);
		case ':':
			return err_usage(err, "option '%s' needs an argument", argv[optind - 1]);
		default:
			return err_usage(err, "unknown option '%s' (see 'kiln --help')",
					 argv[optind - 1]);
		}
	}
	return optind;
}

int main(int argc, char **argv)
{
	_cleanup_(err_freep) struct kiln_error *err = NULL;
	const struct kiln_command *c;
	const char *env_level = getenv("KILN_LOG_LEVEL");
	enum log_level level;
	int first, r;

	setlocale(LC_CTYPE, "C.UTF-8");
	signal(SIGPIPE, SIG_IGN);
	if (env_level && log_parse_level(env_level, &level) == 0)
		log_set_level(level);
	first = parse_global(argc, argv, &err);
	if (first < 0)
		return report(err);
	if (first >= argc) {
		print_main_usage(stderr);
		return 2;
	}
	c = cmd_find(argv[first]);
	if (!c) {
		err_usage(&err, "unknown command '%s' (see 'kiln --help')", argv[first]);
		return report(err);
	}
	if (cmd_wants_help(argc - first, argv + first)) {
		cmd_print_usage(c);
		return 0;
	}
	if (interruptible(c->name))
		interrupt_install();
	optind = 0; /* reset getopt for the command's own parsing */
	r = c->fn(argc - first, argv + first, &err);
	if (r < 0)
		return report(err);
	return r;
}
