/* SPDX-License-Identifier: Apache-2.0 */
/* docker-style --format: {{.Field}} substitution, "table" alignment, "json" lines. */
#include "cmd/cmd-format.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/error.h"
#include "util/strbuf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#include "util/banned.h"

enum seg_kind { SEG_TEXT, SEG_FIELD, SEG_JSON_FIELD, SEG_JSON_ALL };

struct seg {
	enum seg_kind kind;
	char *text; /* SEG_TEXT */
	size_t field; /* SEG_FIELD, SEG_JSON_FIELD */
};

struct fmt {
	const struct fmt_field *fields;
	size_t n_fields;
	struct seg *segs;
	size_t n_segs;
	bool table;
	struct strv lines; /* a table's rows, header first */
};

/* docker's tabwriter: minimum cell width 10, padding 3, spaces */
#define TAB_MINWIDTH 10
#define TAB_PADDING  3

static void add_seg(struct fmt *f, enum seg_kind kind, char *text, size_t field)
{
	f->segs = xrealloc(f->segs, (f->n_segs + 1) * sizeof(*f->segs));
	f->segs[f->n_segs++] = (struct seg){.kind = kind, .text = text, .field = field};
}

/* Literal text, with the two-character escapes \t and \n made real. */
static void add_text(struct fmt *f, const char *s, size_t n)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && (s[i + 1] == 't' || s[i + 1] == 'n')) {
			strbuf_addch(&sb, s[++i] == 't' ? '\t' : '\n');
			continue;
		}
		strbuf_addch(&sb, s[i]);
	}
	if (sb.len)
		add_seg(f, SEG_TEXT, strbuf_detach(&sb, NULL), 0);
	strbuf_release(&sb);
}

static int find_field(const struct fmt *f, const char *name, size_t *ret)
{
	for (size_t i = 0; i < f->n_fields; i++)
		if (streq(f->fields[i].name, name)) {
			*ret = i;
			return 0;
		}
	return -1;
}

static char *field_names(const struct fmt *f)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < f->n_fields; i++)
		strbuf_addf(&sb, "%s.%s", i ? ", " : "", f->fields[i].name);
	return strbuf_detach(&sb, NULL);
}

/* The inside of one {{ }}: ".Field", "json .Field" or "json ." */
static int add_action(struct fmt *f, const char *cmd, char *a, struct kiln_error **err)
{
	_cleanup_free_ char *names = NULL;
	bool json = false;
	size_t field;

	if (strncmp(a, "json ", 5) == 0) {
		json = true;
		a += 5;
		a += strspn(a, " ");
	}
	if (json && streq(a, ".")) {
		add_seg(f, SEG_JSON_ALL, NULL, 0);
		return 0;
	}
	if (a[0] == '.' && find_field(f, a + 1, &field) == 0) {
		add_seg(f, json ? SEG_JSON_FIELD : SEG_FIELD, NULL, field);
		return 0;
	}
	names = field_names(f);
	return err_usage(err,
			 "%s: --format: unknown action '{{%s%s}}' (expected {{.Field}}, "
			 "{{json .Field}} or {{json .}}; fields: %s)",
			 cmd, json ? "json " : "", a, names);
}

static int parse_template(struct fmt *f, const char *cmd, const char *s, struct kiln_error **err)
{
	while (*s) {
		const char *open = strstr(s, "{{"), *close;
		_cleanup_free_ char *action = NULL;
		size_t n;
		int r;

		if (!open) {
			add_text(f, s, strlen(s));
			return 0;
		}
		add_text(f, s, (size_t)(open - s));
		close = strstr(open + 2, "}}");
		if (!close)
			return err_usage(err, "%s: --format: '{{' without '}}' in '%s'", cmd, open);
		open += 2;
		n = (size_t)(close - open);
		action = xstrndup(open, n);
		r = add_action(f, cmd, action + strspn(action, " "), err);
		if (r < 0)
			return r;
		s = close + 2;
	}
	return 0;
}

/* strip the spaces at the end of an action: "{{ .ID }}" */
static void rtrim_actions(char *s)
{
	for (char *c = strstr(s, "}}"); c; c = strstr(c + 2, "}}")) {
		char *e = c;

		while (e > s && e[-1] == ' ')
			e--;
		memmove(e, c, strlen(c) + 1);
		c = e;
	}
}

int fmt_parse(const char *cmd, const char *format, const char *table_default,
	      const struct fmt_field *fields, size_t n_fields, struct fmt **ret,
	      struct kiln_error **err)
{
	_cleanup_(fmt_freep) struct fmt *f = xcalloc(1, sizeof(*f));
	_cleanup_free_ char *tmpl = NULL;
	int r;

	f->fields = fields;
	f->n_fields = n_fields;
	if (!format || streq(format, "table"))
		format = table_default;
	if (streq(format, "json"))
		format = "{{json .}}";
	if (strncmp(format, "table ", 6) == 0) {
		f->table = true;
		format += 6;
	}
	tmpl = xstrdup(format);
	rtrim_actions(tmpl);
	r = parse_template(f, cmd, tmpl, err);
	if (r < 0)
		return r;
	if (f->table) {
		const char *headers[64];

		for (size_t i = 0; i < n_fields && i < ARRAY_SIZE(headers); i++)
			headers[i] = fields[i].header;
		fmt_row(f, headers);
	}
	*ret = TAKE_PTR(f);
	return 0;
}

/* Go's encoding/json escapes <, > and & inside strings: so do we. */
static void add_go_json(struct strbuf *sb, const json_t *j)
{
	_cleanup_free_ char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	for (const char *c = s; c && *c; c++) {
		if (*c == '<' || *c == '>' || *c == '&')
			strbuf_addf(sb, "\\u%04x", (unsigned)*c);
		else
			strbuf_addch(sb, *c);
	}
}

static void add_json_all(const struct fmt *f, struct strbuf *sb, const char *const *values)
{
	_cleanup_(json_decrefp) json_t *o = json_object();

	for (size_t i = 0; i < f->n_fields; i++)
		json_object_set_new(o, f->fields[i].name, json_string(values[i]));
	add_go_json(sb, o);
}

static void expand(const struct fmt *f, struct strbuf *sb, const char *const *values)
{
	for (size_t i = 0; i < f->n_segs; i++) {
		const struct seg *s = &f->segs[i];
		_cleanup_(json_decrefp) json_t *j = NULL;

		switch (s->kind) {
		case SEG_TEXT:
			strbuf_addstr(sb, s->text);
			break;
		case SEG_FIELD:
			strbuf_addstr(sb, values[s->field]);
			break;
		case SEG_JSON_FIELD:
			j = json_string(values[s->field]);
			add_go_json(sb, j);
			break;
		case SEG_JSON_ALL:
			add_json_all(f, sb, values);
			break;
		}
	}
}

void fmt_row(struct fmt *f, const char *const *values)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	expand(f, &sb, values);
	if (f->table) {
		strv_push(&f->lines, sb.buf);
		return;
	}
	printf("%s\n", sb.buf);
}

/* Cells of one line, split at tabs: n cells. */
static size_t split_cells(char *line, char **cells, size_t max)
{
	size_t n = 0;

	cells[n++] = line;
	for (char *t = strchr(line, '\t'); t && n < max; t = strchr(t + 1, '\t')) {
		*t = '\0';
		cells[n++] = t + 1;
	}
	return n;
}

/* the width tabwriter sees: runes, not bytes */
static size_t runes(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/*
 * Align as text/tabwriter.NewWriter(out, 10, 1, 3, ' ', 0) does for rows of the
 * same shape: every cell ended by a tab is padded to its column's widest cell
 * plus 3, at least 10; the last cell of a line is not padded.
 */
void fmt_flush(struct fmt *f)
{
	size_t width[32] = {0};
	char *cells[32];

	if (!f->table)
		return;
	for (size_t l = 0; l < f->lines.n; l++) {
		_cleanup_free_ char *line = xstrdup(f->lines.v[l]);
		size_t n = split_cells(line, cells, ARRAY_SIZE(cells));

		for (size_t c = 0; c + 1 < n; c++)
			width[c] = MAX(width[c], MAX(runes(cells[c]) + TAB_PADDING, TAB_MINWIDTH));
	}
	for (size_t l = 0; l < f->lines.n; l++) {
		size_t n = split_cells(f->lines.v[l], cells, ARRAY_SIZE(cells));

		for (size_t c = 0; c + 1 < n; c++)
			printf("%s%*s", cells[c], (int)(width[c] - runes(cells[c])), "");
		printf("%s\n", cells[n - 1]);
	}
	strv_clear(&f->lines);
}

void fmt_free(struct fmt *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_segs; i++)
		free(f->segs[i].text);
	free(f->segs);
	strv_clear(&f->lines);
	free(f);
}

void fmt_human_size(unsigned long long n, char buf[32])
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
	double v = (double)n;
	size_t u = 0;

	while (v >= 1000 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1000;
		u++;
	}
	snprintf(buf, 32, "%.3g%s", v, units[u]);
}

/* go-units' HumanDuration */
static void human_duration(long long secs, char buf[48])
{
	long long minutes = secs / 60, hours = (secs + 1800) / 3600;

	if (secs < 1)
		snprintf(buf, 48, "Less than a second");
	else if (secs == 1)
		snprintf(buf, 48, "1 second");
	else if (secs < 60)
		snprintf(buf, 48, "%lld seconds", secs);
	else if (minutes == 1)
		snprintf(buf, 48, "About a minute");
	else if (minutes < 60)
		snprintf(buf, 48, "%lld minutes", minutes);
	else if (hours == 1)
		snprintf(buf, 48, "About an hour");
	else if (hours < 48)
		snprintf(buf, 48, "%lld hours", hours);
	else if (hours < 24 * 7 * 2)
		snprintf(buf, 48, "%lld days", hours / 24);
	else if (hours < 24 * 30 * 2)
		snprintf(buf, 48, "%lld weeks", hours / 24 / 7);
	else if (hours < 24 * 365 * 2)
		snprintf(buf, 48, "%lld months", hours / 24 / 30);
	else
		snprintf(buf, 48, "%lld years", secs / 3600 / 24 / 365);
}

void fmt_human_since(long long created, char buf[64])
{
	char d[48];

	if (created < 0) {
		snprintf(buf, 64, "N/A");
		return;
	}
	human_duration((long long)time(NULL) - created, d);
	snprintf(buf, 64, "%s ago", d);
}

void fmt_time(long long created, char buf[64])
{
	time_t t = (time_t)created;
	struct tm tm;

	if (created < 0 || !localtime_r(&t, &tm) ||
	    !strftime(buf, 64, "%Y-%m-%d %H:%M:%S %z %Z", &tm))
		snprintf(buf, 64, "N/A");
}

long long fmt_parse_rfc3339(const char *s)
{
	int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
	struct tm tm = {0};
	long long t;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
		return -1;
	s += n;
	if (*s == '.')
		s += 1 + strspn(s + 1, "0123456789");
	if ((*s == '+' || *s == '-') && sscanf(s + 1, "%2d:%2d", &oh, &om) == 2)
		oh = (*s == '-' ? -1 : 1) * (oh * 60 + om);
	else if (*s != 'Z' && *s != 'z')
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (long long)timegm(&tm);
	return t - (long long)oh * 60;
}
