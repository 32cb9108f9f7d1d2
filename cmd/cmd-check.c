/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln check: every error and warning in a Dockerfile (and its ignore file),
 * like `docker build --check`, without building. Findings go to stdout in
 * compiler style; the exit status is 1 when there is an error.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "parser/parser.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

static void print_diag(const struct parser_diag *d)
{
	_cleanup_free_ char *msg =
		xasprintf("%s: %s%s%s%s", d->severity == DIAG_ERROR ? "error" : "warning", d->msg,
			  d->rule ? " [" : "", d->rule ? d->rule : "", d->rule ? "]" : "");
	struct kiln_error e = {
		.kind = KILN_ERR_INPUT, .loc = d->loc, .msg = msg, .excerpt = d->excerpt};
	_cleanup_free_ char *s = err_format(&e);

	printf("%s\n", s);
}

/* The Dockerfile: -f as given, else CONTEXT/Dockerfile, else CONTEXT/Containerfile. */
static char *dockerfile_path(const char *file, const char *context)
{
	char *p;

	if (file)
		return xstrdup(file);
	p = xasprintf("%s/Dockerfile", context);
	if (access(p, F_OK) == 0)
		return p;
	free(p);
	p = xasprintf("%s/Containerfile", context);
	if (access(p, F_OK) == 0)
		return p;
	free(p);
	return xasprintf("%s/Dockerfile", context);
}

/* <dockerfile>.dockerignore beside the Dockerfile wins over CONTEXT/.dockerignore. */
static int check_ignore_file(const char *dockerfile, const char *context, struct kiln_error **err)
{
	_cleanup_free_ char *beside = dockerignore_name_for(dockerfile);
	_cleanup_free_ char *root = xasprintf("%s/.dockerignore", context);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_(dockerignore_freep) struct dockerignore *di = NULL;
	const char *path = !streq(dockerfile, "-") && access(beside, F_OK) == 0 ? beside : root;
	int r;

	if (access(path, F_OK) != 0)
		return 0;
	if ((r = strbuf_read_file(&sb, AT_FDCWD, path, err)) < 0)
		return r;
	return dockerignore_parse(sb.buf, sb.len, path, &di, err);
}

/* "# check=...;error=true" turns warnings into a failure, as in BuildKit. */
static bool warnings_fail(const struct dockerfile *df)
{
	const char *e = df->check ? strstr(df->check, "error=") : NULL;

	return e && (e == df->check || e[-1] == ';' || e[-1] == ' ') &&
	       strncasecmp(e + 6, "true", 4) == 0;
}

struct check_opts {
	const char *file;
	const char *context;
};

const struct cmd_option cmd_check_options[] = {
	{"file", 'f', required_argument, 'f', "DOCKERFILE", "the Dockerfile to check"},
	CMD_OPTION_END,
};

static int parse_opts(int argc, char **argv, struct check_opts *o, struct kiln_error **err)
{
	_cleanup_(cmd_getopt_release) struct cmd_getopt g;
	int c;

	cmd_getopt_init(&g, cmd_check_options);
	opterr = 0;
	while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		if (c == 'f')
			o->file = optarg;
		else if (c == ':' || (c == '?' && optopt == 'f'))
			return err_usage(err, "check: option '-f' needs a file name");
		else
			return err_usage(err, "check: unknown option '%s' (see 'kiln help check')",
					 argv[optind - 1]);
	}
	if (argc - optind > 1)
		return err_usage(err, "check: expected at most one CONTEXT, got %d", argc - optind);
	o->context = optind < argc ? argv[optind] : ".";
	return 0;
}

int cmd_check(int argc, char **argv, struct kiln_error **err)
{
	struct check_opts o = {};
	_cleanup_strbuf_ struct strbuf in = STRBUF_INIT;
	_cleanup_(dockerfile_freep) struct dockerfile *df = NULL;
	_cleanup_free_ char *path = NULL;
	size_t warnings;
	int r;

	if ((r = parse_opts(argc, argv, &o, err)) < 0)
		return r;
	path = dockerfile_path(o.file, o.context);
	if ((r = cmd_read_dockerfile(path, &in, err)) < 0)
		return r;
	r = parser_parse_flags(in.buf, in.len, streq(path, "-") ? "<stdin>" : path,
			       PARSER_KEEP_GOING, &df, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < df->n_diags; i++)
		print_diag(&df->diags[i]);
	if ((r = check_ignore_file(path, o.context, err)) < 0)
		return r;
	warnings = df->n_diags - df->n_errors;
	if (df->n_errors || (warnings && warnings_fail(df)))
		return err_at(err, NULL, "check: '%s' has %zu error%s and %zu warning%s",
			      df->filename, df->n_errors, df->n_errors == 1 ? "" : "s", warnings,
			      warnings == 1 ? "" : "s");
	printf("%s: %zu instruction%s in %zu stage%s, %zu warning%s\n", df->filename, df->n_instrs,
	       df->n_instrs == 1 ? "" : "s", df->n_stages, df->n_stages == 1 ? "" : "s", warnings,
	       warnings == 1 ? "" : "s");
	return 0;
}
