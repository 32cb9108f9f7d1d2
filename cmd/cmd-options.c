/* SPDX-License-Identifier: Apache-2.0 */
/* Option tables (cmd/cmd-options.h): getopt_long's arrays and the help, from one table. */
#include "cmd/cmd-options.h"

#include <string.h>

#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define HELP_COLUMN 29

void cmd_getopt_init(struct cmd_getopt *g, const struct cmd_option *opts)
{
	struct strbuf s = STRBUF_INIT;
	size_t n = 0, i = 0;

	while (opts[n].name)
		n++;
	g->longopts = xcalloc(n + 1, sizeof(*g->longopts));
	strbuf_addch(&s, ':');
	for (const struct cmd_option *o = opts; o->name; o++, i++) {
		g->longopts[i] = (struct option){o->name, o->has_arg, NULL, o->val};
		if (!o->short_name)
			continue;
		strbuf_addch(&s, (char)o->short_name);
		if (o->has_arg != no_argument)
			strbuf_addstr(&s, o->has_arg == optional_argument ? "::" : ":");
	}
	g->shortopts = strbuf_detach(&s, NULL);
}

void cmd_getopt_release(struct cmd_getopt *g)
{
	free(g->longopts);
	free(g->shortopts);
	g->longopts = NULL;
	g->shortopts = NULL;
}

/* "  -t, --tag NAME[:TAG]", "  --pull[=POLICY]" */
static void option_left(const struct cmd_option *o, struct strbuf *out)
{
	strbuf_addstr(out, "  ");
	if (o->short_name)
		strbuf_addf(out, "-%c, ", (char)o->short_name);
	strbuf_addf(out, "--%s", o->name);
	if (o->arg && o->has_arg == optional_argument)
		strbuf_addf(out, "[=%s]", o->arg);
	else if (o->arg)
		strbuf_addf(out, " %s", o->arg);
}

static void pad_to(struct strbuf *out, size_t line_start, size_t column)
{
	while (out->len - line_start < column)
		strbuf_addch(out, ' ');
}

void cmd_options_help(const struct cmd_option *opts, struct strbuf *out)
{
	for (const struct cmd_option *o = opts; o->name; o++) {
		size_t start = out->len, width;
		const char *line = o->help ? o->help : "";
		const char *nl = strchrnul(line, '\n');

		option_left(o, out);
		width = out->len - start;
		/* the help beside the option, or below it when both do not fit in 80 columns */
		if (width + 2 > HELP_COLUMN && width + 2 + (size_t)(nl - line) > 80) {
			strbuf_addch(out, '\n');
			start = out->len;
		} else if (width + 2 > HELP_COLUMN) {
			strbuf_addstr(out, "  ");
		}
		for (;;) {
			pad_to(out, start, HELP_COLUMN);
			strbuf_add(out, line, (size_t)(nl - line));
			strbuf_addch(out, '\n');
			if (!*nl)
				break;
			line = nl + 1;
			nl = strchrnul(line, '\n');
			start = out->len;
		}
	}
}
