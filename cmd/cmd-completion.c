/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln completion bash|zsh|options: shell completion generated from the
 * command table (kiln_commands[]) and each command's option table
 * (cmd-options.h), the one its parser and its help are made from; a command
 * without a table yet has its options scanned from its help text.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

static bool opt_char(char c)
{
	return isalnum((unsigned char)c) || c == '-';
}

/* "--long" and "-x" tokens of @text (@n bytes), once each, in order */
static void scan_options(const char *text, size_t n, struct strv *ret)
{
	for (size_t i = 0; i < n; i++) {
		const char *p = text + i;
		size_t len = 0;

		if (*p != '-' || (i > 0 && (opt_char(p[-1]) || p[-1] == '=')))
			continue;
		if (i + 2 < n && p[1] == '-' && isalpha((unsigned char)p[2]))
			for (len = 2; i + len < n && opt_char(p[len]); len++)
				;
		else if (i + 1 < n && isalpha((unsigned char)p[1]) &&
			 (i + 2 >= n || !opt_char(p[2])))
			len = 2;
		if (len) {
			_cleanup_free_ char *o = xstrndup(p, len);

			if (o[len - 1] != '-' && strv_find(ret, o) < 0)
				strv_push(ret, o);
			i += len - 1;
		}
	}
}

/*
 * The options a help text defines: those of its usage lines (up to the first
 * blank line) and of the option column of lines that start with '-' (up to two
 * spaces: the description after them may name other tools' options).
 */
static void help_options(const char *usage, struct strv *ret)
{
	bool in_usage = true;

	for (const char *line = usage; *line;) {
		const char *end = strchrnul(line, '\n'), *start = line + strspn(line, " ");
		const char *gap;

		if (start == end)
			in_usage = false;
		if (in_usage) {
			scan_options(line, (size_t)(end - line), ret);
		} else if (*start == '-') {
			gap = strstr(start, "  ");
			scan_options(start, (size_t)((gap && gap < end ? gap : end) - start), ret);
		}
		line = *end ? end + 1 : end;
	}
}

/* The first line of @help, for zsh's descriptions, with ' as zsh quotes it. */
static char *describe(const char *name, const char *help)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "%s:", name);
	for (const char *p = help ? help : ""; *p && *p != '\n'; p++) {
		if (*p == '\'')
			strbuf_addstr(&sb, "'\\''");
		else
			strbuf_addch(&sb, *p);
	}
	return strbuf_detach(&sb, NULL);
}

/*
 * The options of @c, "--long" and "-x", each once; with @described, each as
 * "NAME:the first line of its help" (zsh's _describe).
 */
static void command_options(const struct kiln_command *c, bool described, struct strv *ret)
{
	if (!c->options) {
		_cleanup_strv_ struct strv names = STRV_INIT;

		help_options(c->usage, &names);
		strv_push(&names, "--help");
		strv_foreach(&names, n)
			strv_push_take(ret, described ? describe(*n, NULL) : xstrdup(*n));
		return;
	}
	for (const struct cmd_option *o = c->options; o->name; o++) {
		_cleanup_free_ char *l = xasprintf("--%s", o->name);
		char s[3] = {'-', (char)o->short_name, '\0'};

		strv_push_take(ret, described ? describe(l, o->help) : xstrdup(l));
		if (o->short_name)
			strv_push_take(ret, described ? describe(s, o->help) : xstrdup(s));
	}
	strv_push_take(ret, described ? describe("--help", "show the command's help")
				      : xstrdup("--help"));
}

static void print_opts(const struct kiln_command *c, bool described)
{
	_cleanup_strv_ struct strv opts = STRV_INIT;

	command_options(c, described, &opts);
	strv_foreach(&opts, o)
		printf(described ? "%s'%s'" : "%s%s", o == opts.v ? "" : " ", *o);
}

static void print_bash(void)
{
	printf("# bash completion for kiln, from 'kiln completion bash'\n"
	       "_kiln() {\n"
	       "\tlocal cur=${COMP_WORDS[COMP_CWORD]} cmd= i opts\n"
	       "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	       "\t\tcase ${COMP_WORDS[i]} in\n"
	       "\t\t--log-level) ((i++)) ;;\n"
	       "\t\t-*) ;;\n"
	       "\t\t*) cmd=${COMP_WORDS[i]}; break ;;\n"
	       "\t\tesac\n"
	       "\tdone\n"
	       "\tcase $cmd in\n"
	       "\t'') opts='--log-level --help --version'\n"
	       "\t\t[[ $cur == -* ]] || opts='");
	for (size_t i = 0; i < kiln_n_commands; i++)
		printf("%s%s", i ? " " : "", kiln_commands[i].name);
	printf("' ;;\n");
	for (size_t i = 0; i < kiln_n_commands; i++) {
		printf("\t%s) opts='", kiln_commands[i].name);
		print_opts(&kiln_commands[i], false);
		printf("' ;;\n");
	}
	printf("\tesac\n"
	       "\tif [[ -z $cmd || $cur == -* ]]; then\n"
	       "\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
	       "\telse\n"
	       "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	       "\tfi\n"
	       "}\n"
	       "complete -o filenames -F _kiln kiln\n");
}

static void print_zsh(void)
{
	printf("#compdef kiln\n"
	       "# zsh completion for kiln, from 'kiln completion zsh'\n"
	       "local -a cmds opts\n"
	       "cmds=(\n");
	for (size_t i = 0; i < kiln_n_commands; i++) {
		_cleanup_free_ char *d = describe(kiln_commands[i].name, kiln_commands[i].summary);

		printf("\t'%s'\n", d);
	}
	printf(")\n"
	       "if (( CURRENT == 2 )); then\n"
	       "\t_describe command cmds\n"
	       "\treturn\n"
	       "fi\n"
	       "case $words[2] in\n");
	for (size_t i = 0; i < kiln_n_commands; i++) {
		printf("%s) opts=(", kiln_commands[i].name);
		print_opts(&kiln_commands[i], true);
		printf(") ;;\n");
	}
	printf("esac\n"
	       "if [[ $PREFIX == -* ]]; then\n"
	       "\t_describe -t options option opts\n"
	       "else\n"
	       "\t_files\n"
	       "fi\n");
}

/* "COMMAND OPTION" per line: what both scripts offer, for checks and other shells. */
static void print_list(void)
{
	for (size_t i = 0; i < kiln_n_commands; i++) {
		_cleanup_strv_ struct strv opts = STRV_INIT;

		command_options(&kiln_commands[i], false, &opts);
		strv_foreach(&opts, o)
			printf("%s %s\n", kiln_commands[i].name, *o);
	}
}

int cmd_completion(int argc, char **argv, struct kiln_error **err)
{
	if (argc != 2 ||
	    (!streq(argv[1], "bash") && !streq(argv[1], "zsh") && !streq(argv[1], "options")))
		return err_usage(
			err,
			"completion: expected bash or zsh (or options: the list both are made from)");
	if (streq(argv[1], "bash"))
		print_bash();
	else if (streq(argv[1], "zsh"))
		print_zsh();
	else
		print_list();
	return 0;
}
