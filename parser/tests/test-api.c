/* SPDX-License-Identifier: Apache-2.0 */
/* The public API as the builder uses it: fields, helpers and error reporting. */
#include "tap.h"
#include "test-util.h"

static struct dockerfile *parse_ok(const char *text, unsigned flags)
{
	struct dockerfile *df = NULL;
	_cleanup_(err_freep) struct kiln_error *err = NULL;

	if (parser_parse_flags(text, strlen(text), "Dockerfile", flags, &df, &err) < 0) {
		_cleanup_free_ char *s = err_format(err);

		printf("# unexpected error: %s\n", s);
		return NULL;
	}
	return df;
}

static char *parse_err(const char *text)
{
	_cleanup_(dockerfile_freep) struct dockerfile *df = NULL;
	_cleanup_(err_freep) struct kiln_error *err = NULL;

	if (parser_parse(text, strlen(text), "Dockerfile", &df, &err) == 0)
		return NULL;
	return err_format(err);
}

TEST(instruction_fields)
{
	_cleanup_(dockerfile_freep) struct dockerfile *df =
		parse_ok("FROM a AS Build\n"
			 "  Run --mount=type=cache,target=/x --mount=type=tmpfs,target=/t echo hi\n"
			 "CMD [\"a\", \"b\"]\n",
			 0);
	const struct instruction *run;

	ASSERT_NOT_NULL(df);
	ASSERT_EQ(df->n_instrs, 3);
	run = &df->instrs[1];
	ASSERT_EQ(run->kind, INSTR_RUN);
	ASSERT_STREQ(run->keyword, "Run");
	ASSERT_EQ(run->loc.line, 2);
	ASSERT_EQ(run->loc.col, 3);
	ASSERT_STREQ(run->loc.file, "Dockerfile");
	ASSERT_EQ(run->n_flags, 2);
	ASSERT_STREQ(run->flags[0].name, "mount");
	ASSERT_STREQ(run->flags[0].value, "type=cache,target=/x");
	ASSERT_STREQ(instr_flag_get(run, "mount"), "type=tmpfs,target=/t");
	ASSERT_NULL(instr_flag_get(run, "network"));
	ASSERT_EQ(run->args.n, 1);
	ASSERT_STREQ(run->args.v[0], "echo hi");
	ASSERT_FALSE(run->json);
	ASSERT_TRUE(df->instrs[2].json);
	ASSERT_EQ(df->instrs[2].args.n, 2);
	ASSERT_STREQ(instr_from_stage_name(&df->instrs[0]), "Build");
	ASSERT_STREQ(df->stages[0].name, "build");
}

TEST(kind_table)
{
	ASSERT_EQ(instr_kind_from_name("healthCheck"), INSTR_HEALTHCHECK);
	ASSERT_EQ(instr_kind_from_name("RUNN"), INSTR_UNKNOWN);
	ASSERT_STREQ(instr_kind_name(INSTR_STOPSIGNAL), "STOPSIGNAL");
	ASSERT_TRUE(instr_expands(INSTR_COPY));
	ASSERT_TRUE(instr_expands(INSTR_WORKDIR));
	ASSERT_TRUE(instr_expands(INSTR_ARG));
	ASSERT_FALSE(instr_expands(INSTR_RUN));
	ASSERT_FALSE(instr_expands(INSTR_CMD));
	ASSERT_FALSE(instr_expands(INSTR_UNKNOWN));
	ASSERT_TRUE(instr_flag_expands(INSTR_COPY, "chown"));
	ASSERT_FALSE(instr_flag_expands(INSTR_COPY, "from"));
	ASSERT_TRUE(instr_flag_expands(INSTR_RUN, "mount"));
}

TEST(stages_and_meta_args)
{
	_cleanup_(dockerfile_freep) struct dockerfile *df =
		parse_ok("ARG A=1\nARG B\nFROM x AS one\nRUN a\nFROM one\nRUN b\nRUN c\n", 0);

	ASSERT_NOT_NULL(df);
	ASSERT_EQ(df->n_meta_args, 2);
	ASSERT_EQ(df->n_stages, 2);
	ASSERT_EQ(df->stages[0].first, 2);
	ASSERT_EQ(df->stages[0].n, 2);
	ASSERT_STREQ(df->stages[0].base, "x");
	ASSERT_EQ(df->stages[1].first, 4);
	ASSERT_EQ(df->stages[1].n, 3);
	ASSERT_NULL(df->stages[1].name);
	ASSERT_EQ(df->instrs[0].n_kvs, 1);
	ASSERT_TRUE(df->instrs[0].kvs[0].has_value);
	ASSERT_FALSE(df->instrs[1].kvs[0].has_value);
}

TEST(heredoc_details)
{
	_cleanup_(dockerfile_freep) struct dockerfile *df =
		parse_ok("FROM x\nRUN <<-EOT bash -e\n\t\techo $A\n\tEOT\nRUN x\n", 0);
	const struct heredoc *h;

	ASSERT_NOT_NULL(df);
	ASSERT_EQ(df->instrs[1].n_heredocs, 1);
	h = &df->instrs[1].heredocs[0];
	ASSERT_STREQ(h->name, "EOT");
	ASSERT_STREQ(h->body, "echo $A\n");
	ASSERT_TRUE(h->chomp);
	ASSERT_TRUE(h->expand);
	ASSERT_EQ(h->fd, -1);
	ASSERT_STREQ(df->instrs[1].args.v[0], "<<-EOT bash -e");
	ASSERT_EQ(df->instrs[1].end_line, 4);
	ASSERT_EQ(df->instrs[2].loc.line, 5);
}

TEST(crlf_bom_and_escape)
{
	_cleanup_(dockerfile_freep) struct dockerfile *df =
		parse_ok("\xef\xbb\xbf# escape=`\r\nFROM x\r\nRUN a `\r\n  b\\c\r\n", 0);

	ASSERT_NOT_NULL(df);
	ASSERT_EQ(df->escape, '`');
	ASSERT_STREQ(df->instrs[1].args.v[0], "a   b\\c");
	ASSERT_EQ(df->instrs[1].end_line, 4);
}

TEST(directives_only_at_the_top)
{
	_cleanup_(dockerfile_freep) struct dockerfile *df =
		parse_ok("# comment\n# escape=`\nFROM x\nRUN a \\\n b\n", 0);

	ASSERT_NOT_NULL(df);
	ASSERT_EQ(df->escape, '\\');
	ASSERT_STREQ(df->instrs[1].args.v[0], "a  b");
}

TEST(warnings_are_collected)
{
	_cleanup_(dockerfile_freep) struct dockerfile *df =
		parse_ok("FROM x\nCMD a\nRUN a \\\n\n b\nMAINTAINER me\n", 0);

	ASSERT_NOT_NULL(df);
	ASSERT_EQ(df->n_errors, 0);
	ASSERT_EQ(df->n_diags, 3);
	ASSERT_STREQ(df->diags[0].rule, "JSONArgsRecommended");
	ASSERT_EQ(df->diags[0].loc.line, 2);
	ASSERT_STREQ(df->diags[1].rule, "NoEmptyContinuation");
	ASSERT_STREQ(df->diags[2].rule, "MaintainerDeprecated");
	ASSERT_STREQ(df->diags[2].excerpt, "MAINTAINER me");
}

TEST(keep_going_collects_every_error)
{
	_cleanup_(dockerfile_freep) struct dockerfile *df =
		parse_ok("FROM x\nRUNN a\nCOPY a\nWORKDIR\n", PARSER_KEEP_GOING);

	ASSERT_NOT_NULL(df);
	ASSERT_EQ(df->n_errors, 3);
	ASSERT_EQ(df->diags[0].severity, DIAG_ERROR);
	ASSERT_EQ(df->diags[2].loc.line, 4);
}

TEST(syntax_only_accepts_what_buildkit_parser_accepts)
{
	_cleanup_(dockerfile_freep) struct dockerfile *df =
		parse_ok("FROM x\nHEALTHCHECK\nCOPY --user=me a b\nBOGUS x\n", PARSER_SYNTAX_ONLY);
	_cleanup_free_ char *e = parse_err("FROM x\nHEALTHCHECK\n");

	ASSERT_NOT_NULL(df);
	ASSERT_EQ(df->n_instrs, 4);
	ASSERT_EQ(df->instrs[3].kind, INSTR_UNKNOWN);
	ASSERT_NOT_NULL(e);
}

TEST(error_format)
{
	_cleanup_free_ char *e = parse_err("FROM x\n  cpoy a b\n");

	ASSERT_STREQ(e, "Dockerfile:2:3: unknown instruction 'cpoy' (did you mean COPY?)\n"
			"     2 |   cpoy a b\n"
			"       |   ^");
}

TEST(free_null)
{
	dockerfile_free(NULL);
	dockerignore_free(NULL);
	ASSERT_TRUE(true);
}

TAP_MAIN(TAP_ENTRY(instruction_fields), TAP_ENTRY(kind_table), TAP_ENTRY(stages_and_meta_args),
	 TAP_ENTRY(heredoc_details), TAP_ENTRY(crlf_bom_and_escape),
	 TAP_ENTRY(directives_only_at_the_top), TAP_ENTRY(warnings_are_collected),
	 TAP_ENTRY(keep_going_collects_every_error),
	 TAP_ENTRY(syntax_only_accepts_what_buildkit_parser_accepts), TAP_ENTRY(error_format),
	 TAP_ENTRY(free_null))
