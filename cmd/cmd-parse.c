/* SPDX-License-Identifier: Apache-2.0 */
/* kiln parse: print a Dockerfile's AST (BuildKit's dump format or JSON). */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "parser/parser.h"
#include "util/strbuf.h"

#include "util/banned.h"

/* Read @path, or stdin for "-". */
int cmd_read_dockerfile(const char *path, struct strbuf *sb, struct kiln_error **err)
{
	if (streq(path, "-"))
		return strbuf_read_fd(sb, 0, err);
	return strbuf_read_file(sb, AT_FDCWD, path, err);
}

static int parse_format(const char *s, bool *ret_buildkit, struct kiln_error **err)
{
	if (streq(s, "buildkit") || streq(s, "json")) {
		*ret_buildkit = streq(s, "buildkit");
		return 0;
	}
	return err_usage(err, "parse: --format: expected buildkit or json, got '%s'", s);
}

const struct cmd_option cmd_parse_options[] = {
	{"format", 0, required_argument, 'F', "json|buildkit",
	 "json (the default): the parsed and checked\n"
	 "instructions as JSON, one object per instruction\n"
	 "(see kiln(1)); buildkit: the syntax layer only,\n"
	 "printed exactly like the `result` files of\n"
	 "BuildKit's parser tests"},
	CMD_OPTION_END,
};

int cmd_parse(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(cmd_getopt_release) struct cmd_getopt g;
	_cleanup_strbuf_ struct strbuf in = STRBUF_INIT, out = STRBUF_INIT;
	_cleanup_(dockerfile_freep) struct dockerfile *df = NULL;
	bool buildkit = false;
	const char *file;
	int c, r;

	cmd_getopt_init(&g, cmd_parse_options);
	opterr = 0;
	while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		if (c == ':')
			return err_usage(err, "parse: option '%s' needs an argument",
					 argv[optind - 1]);
		if (c != 'F')
			return err_usage(err, "parse: unknown option '%s' (see 'kiln help parse')",
					 argv[optind - 1]);
		if ((r = parse_format(optarg, &buildkit, err)) < 0)
			return r;
	}
	if (argc - optind != 1)
		return err_usage(err, "parse: expected one FILE (or - for stdin), got %d",
				 argc - optind);
	file = argv[optind];
	if ((r = cmd_read_dockerfile(file, &in, err)) < 0)
		return r;
	r = parser_parse_flags(in.buf, in.len, streq(file, "-") ? "<stdin>" : file,
			       buildkit ? PARSER_SYNTAX_ONLY : 0, &df, err);
	if (r < 0)
		return r;
	if (buildkit)
		dockerfile_dump_buildkit(df, &out);
	else
		dockerfile_dump_json(df, &out);
	fwrite(out.buf, 1, out.len, stdout);
	return 0;
}
