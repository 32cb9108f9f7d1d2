/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Two renderings of the AST: BuildKit's parser-test dump (byte for byte the
 * `result` files) and kiln's JSON form (doc/kiln.1.md documents it).
 */
#include <ctype.h>
#include <string.h>

#include "parser/parser-internal.h"

#include "util/banned.h"

static void dump_flag_word(struct strbuf *out, const struct instr_flag *f)
{
	struct strbuf w = STRBUF_INIT;

	strbuf_addf(&w, "--%s", f->name);
	if (f->has_value)
		strbuf_addf(&w, "=%s", f->value);
	text_go_quote(out, w.buf, w.len);
	strbuf_release(&w);
}

static void dump_instr(struct strbuf *out, const struct instruction *in)
{
	for (const char *k = in->keyword; *k; k++)
		strbuf_addch(out, tolower((unsigned char)*k));
	if (in->n_flags) {
		strbuf_addstr(out, " [");
		for (size_t i = 0; i < in->n_flags; i++) {
			if (i)
				strbuf_addch(out, ' ');
			dump_flag_word(out, &in->flags[i]);
		}
		strbuf_addch(out, ']');
	}
	for (size_t i = 0; i < in->args.n; i++) {
		strbuf_addch(out, ' ');
		text_go_quote(out, in->args.v[i], in->arg_lens[i]);
	}
	if (in->onbuild) {
		strbuf_addstr(out, " (");
		dump_instr(out, in->onbuild);
		strbuf_addch(out, ')');
	}
}

void dockerfile_dump_buildkit(const struct dockerfile *df, struct strbuf *out)
{
	for (size_t i = 0; i < df->n_instrs; i++) {
		strbuf_addch(out, '(');
		dump_instr(out, &df->instrs[i]);
		strbuf_addstr(out, ")\n");
	}
}

static void json_str(struct strbuf *out, const char *s)
{
	if (s)
		text_json_quote(out, s, strlen(s));
	else
		strbuf_addstr(out, "null");
}

static void json_bool(struct strbuf *out, const char *key, bool v)
{
	strbuf_addf(out, ",\"%s\":%s", key, v ? "true" : "false");
}

static void json_flags(struct strbuf *out, const struct instruction *in)
{
	strbuf_addstr(out, ",\"flags\":[");
	for (size_t i = 0; i < in->n_flags; i++) {
		strbuf_addstr(out, i ? ",{\"name\":" : "{\"name\":");
		json_str(out, in->flags[i].name);
		strbuf_addstr(out, ",\"value\":");
		json_str(out, in->flags[i].has_value ? in->flags[i].value : NULL);
		strbuf_addch(out, '}');
	}
	strbuf_addch(out, ']');
}

static void json_args(struct strbuf *out, const struct instruction *in)
{
	strbuf_addstr(out, ",\"args\":[");
	for (size_t i = 0; i < in->args.n; i++) {
		if (i)
			strbuf_addch(out, ',');
		text_json_quote(out, in->args.v[i], in->arg_lens[i]);
	}
	strbuf_addch(out, ']');
}

static void json_heredocs(struct strbuf *out, const struct instruction *in)
{
	if (!in->n_heredocs)
		return;
	strbuf_addstr(out, ",\"heredocs\":[");
	for (size_t i = 0; i < in->n_heredocs; i++) {
		const struct heredoc *h = &in->heredocs[i];

		strbuf_addstr(out, i ? ",{\"name\":" : "{\"name\":");
		json_str(out, h->name);
		strbuf_addf(out, ",\"fd\":%d", h->fd);
		json_bool(out, "expand", h->expand);
		json_bool(out, "chomp", h->chomp);
		strbuf_addstr(out, ",\"body\":");
		json_str(out, h->body);
		strbuf_addch(out, '}');
	}
	strbuf_addch(out, ']');
}

static void json_kvs(struct strbuf *out, const struct instruction *in)
{
	if (!in->n_kvs)
		return;
	strbuf_addstr(out, ",\"kvs\":[");
	for (size_t i = 0; i < in->n_kvs; i++) {
		strbuf_addstr(out, i ? ",{\"key\":" : "{\"key\":");
		json_str(out, in->kvs[i].key);
		strbuf_addstr(out, ",\"value\":");
		json_str(out, in->kvs[i].has_value ? in->kvs[i].value : NULL);
		if (in->kvs[i].legacy)
			json_bool(out, "legacy", true);
		strbuf_addch(out, '}');
	}
	strbuf_addch(out, ']');
}

static void json_instr(struct strbuf *out, const struct instruction *in)
{
	strbuf_addstr(out, "{\"kind\":");
	json_str(out, instr_kind_name(in->kind));
	strbuf_addstr(out, ",\"keyword\":");
	json_str(out, in->keyword);
	strbuf_addf(out, ",\"line\":%u,\"column\":%u,\"end_line\":%u", in->loc.line, in->loc.col,
		    in->end_line);
	json_flags(out, in);
	json_args(out, in);
	json_bool(out, "json", in->json);
	strbuf_addstr(out, ",\"rest\":");
	json_str(out, in->rest);
	json_heredocs(out, in);
	json_kvs(out, in);
	if (in->onbuild) {
		strbuf_addstr(out, ",\"onbuild\":");
		json_instr(out, in->onbuild);
	}
	strbuf_addch(out, '}');
}

static void json_stages(struct strbuf *out, const struct dockerfile *df)
{
	strbuf_addstr(out, " \"stages\":[");
	for (size_t i = 0; i < df->n_stages; i++) {
		const struct stage *st = &df->stages[i];

		strbuf_addf(out, "%s{\"first\":%zu,\"count\":%zu,\"base\":", i ? "," : "",
			    st->first, st->n);
		json_str(out, st->base);
		strbuf_addstr(out, ",\"name\":");
		json_str(out, st->name);
		strbuf_addch(out, '}');
	}
	strbuf_addstr(out, "],\n");
}

static void json_diags(struct strbuf *out, const struct dockerfile *df)
{
	strbuf_addstr(out, " \"diagnostics\":[");
	for (size_t i = 0; i < df->n_diags; i++) {
		const struct parser_diag *d = &df->diags[i];

		strbuf_addf(out, "%s\n  {\"severity\":\"%s\",\"line\":%u,\"column\":%u,\"rule\":",
			    i ? "," : "", d->severity == DIAG_ERROR ? "error" : "warning",
			    d->loc.line, d->loc.col);
		json_str(out, d->rule);
		strbuf_addstr(out, ",\"message\":");
		json_str(out, d->msg);
		strbuf_addch(out, '}');
	}
	strbuf_addstr(out, df->n_diags ? "\n ]}\n" : "]}\n");
}

void dockerfile_dump_json(const struct dockerfile *df, struct strbuf *out)
{
	char esc[2] = {df->escape, 0};

	strbuf_addstr(out, "{\"file\":");
	json_str(out, df->filename);
	strbuf_addstr(out, ",\"escape\":");
	json_str(out, esc);
	strbuf_addstr(out, ",\"syntax\":");
	json_str(out, df->syntax);
	strbuf_addstr(out, ",\"check\":");
	json_str(out, df->check);
	strbuf_addf(out, ",\"meta_args\":%zu,\n \"instructions\":[", df->n_meta_args);
	for (size_t i = 0; i < df->n_instrs; i++) {
		strbuf_addstr(out, i ? ",\n  " : "\n  ");
		json_instr(out, &df->instrs[i]);
	}
	strbuf_addstr(out, "\n ],\n");
	json_stages(out, df);
	json_diags(out, df);
}
