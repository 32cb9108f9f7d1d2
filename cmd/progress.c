/* SPDX-License-Identifier: Apache-2.0 */
#include "cmd/progress.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define TAIL_LINES 6 /* output lines shown under a running step in the tty view */
#define FAIL_LINES 20 /* output lines repeated when a step fails */
#define LINE_KEEP  4096 /* bytes kept of each of them: the end of a longer line */

struct step_view {
	struct build_step_info info; /* text and stage_name copied */
	double started;
	struct strbuf partial; /* plain mode: an unterminated output line */
	struct strbuf tail; /* the last lines of output */
	bool titled; /* plain mode: the step's title line was printed */
};

struct progress {
	enum progress_mode mode;
	FILE *out;
	pthread_mutex_t lock;
	struct step_view *steps;
	size_t n_steps, alloc_steps;
	unsigned drawn_lines; /* tty: lines of the last frame, to move back over */
	pthread_t ticker;
	bool ticking, stop;
	double start;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int progress_parse_mode(const char *s, enum progress_mode *ret)
{
	static const struct {
		const char *name;
		enum progress_mode mode;
	} modes[] = {
		{"auto", PROGRESS_AUTO}, {"tty", PROGRESS_TTY},	    {"plain", PROGRESS_PLAIN},
		{"json", PROGRESS_JSON}, {"quiet", PROGRESS_QUIET},
	};

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		if (streq(s, modes[i].name)) {
			*ret = modes[i].mode;
			return 0;
		}
	}
	return -EINVAL;
}

static struct step_view *find_step(struct progress *p, const struct build_step_info *info)
{
	struct step_view *v;

	for (size_t i = 0; i < p->n_steps; i++)
		if (p->steps[i].info.id == info->id)
			return &p->steps[i];
	ALLOC_GROW(p->steps, p->n_steps + 1, p->alloc_steps);
	v = &p->steps[p->n_steps++];
	memset(v, 0, sizeof(*v));
	v->info = *info;
	v->info.text = xstrdup(info->text);
	v->info.stage_name = info->stage_name ? xstrdup(info->stage_name) : NULL;
	v->info.platform = info->platform ? xstrdup(info->platform) : NULL;
	v->started = now();
	strbuf_init(&v->partial, 0);
	strbuf_init(&v->tail, 0);
	return v;
}

/* Keep only the last @max lines of @sb. */
static void keep_tail(struct strbuf *sb, unsigned max)
{
	unsigned lines = 0;
	size_t i = sb->len;

	while (i > 0) {
		i--;
		if (sb->buf[i] == '\n' && i != sb->len - 1 && ++lines >= max) {
			memmove(sb->buf, sb->buf + i + 1, sb->len - i - 1);
			strbuf_setlen(sb, sb->len - i - 1);
			return;
		}
	}
}

/*
 * Append @buf to @sb, keeping only the last LINE_KEEP bytes of each line, then
 * only the last @max lines: the work is linear in @len whatever the output
 * (32 MiB without a newline took 23 s when each chunk rescanned the line).
 */
static void tail_add(struct strbuf *sb, const char *buf, size_t len, unsigned max)
{
	while (len) {
		const char *nl = memchr(buf, '\n', len);
		size_t n = nl ? (size_t)(nl - buf) + 1 : len, body = nl ? n - 1 : n;
		const char *prev = sb->len ? memrchr(sb->buf, '\n', sb->len) : NULL;
		size_t cur = prev ? sb->len - (size_t)(prev - sb->buf) - 1 : sb->len;

		if (cur + body > LINE_KEEP) {
			size_t take = MIN(body, (size_t)LINE_KEEP);
			size_t drop = cur - MIN(cur, (size_t)LINE_KEEP - take);
			size_t start = sb->len - cur;

			memmove(sb->buf + start, sb->buf + start + drop, cur - drop);
			strbuf_setlen(sb, sb->len - drop);
			strbuf_add(sb, buf + body - take, take);
			if (nl)
				strbuf_addch(sb, '\n');
		} else {
			strbuf_add(sb, buf, n);
		}
		buf += n;
		len -= n;
	}
	keep_tail(sb, max);
}

static const char *state_name(enum build_step_state s)
{
	static const char *const names[] = {
		[BUILD_STEP_RUNNING] = "running",
		[BUILD_STEP_CACHED] = "cached",
		[BUILD_STEP_DONE] = "done",
		[BUILD_STEP_FAILED] = "failed",
	};

	return names[s];
}

static void step_label(struct strbuf *sb, const struct build_step_info *s)
{
	if (s->platform && s->stage_name)
		strbuf_addf(sb, "[%s %s %u/%u] %s", s->platform, s->stage_name, s->index, s->total,
			    s->text);
	else if (s->platform)
		strbuf_addf(sb, "[%s %u/%u] %s", s->platform, s->index, s->total, s->text);
	else if (s->stage_name)
		strbuf_addf(sb, "[%s %u/%u] %s", s->stage_name, s->index, s->total, s->text);
	else
		strbuf_addf(sb, "[%u/%u] %s", s->index, s->total, s->text);
}

/* --- plain: one line per event, output prefixed with the step number --- */

static void plain_step(struct progress *p, struct step_view *v)
{
	struct strbuf sb = STRBUF_INIT;
	const struct build_step_info *s = &v->info;

	switch (s->state) {
	case BUILD_STEP_RUNNING:
		strbuf_addf(&sb, "#%u ", s->id);
		step_label(&sb, s);
		v->titled = true;
		break;
	case BUILD_STEP_CACHED:
		/* the title once, as BuildKit: it may have been printed as the step began */
		if (!v->titled) {
			strbuf_addf(&sb, "#%u ", s->id);
			step_label(&sb, s);
			strbuf_addch(&sb, '\n');
		}
		strbuf_addf(&sb, "#%u CACHED", s->id);
		break;
	case BUILD_STEP_DONE:
		strbuf_addf(&sb, "#%u DONE %.1fs", s->id, s->seconds);
		break;
	case BUILD_STEP_FAILED:
		if (v->partial.len)
			strbuf_addf(&sb, "#%u %s\n", s->id, v->partial.buf);
		strbuf_addf(&sb, "#%u ERROR", s->id);
		if (s->exit_status >= 0)
			strbuf_addf(&sb, ": exit code %d", s->exit_status);
		break;
	}
	fprintf(p->out, "%s\n", sb.buf);
	strbuf_release(&sb);
}

static void plain_output(struct progress *p, struct step_view *v, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n') {
			strbuf_addch(&v->partial, buf[i]);
			continue;
		}
		fprintf(p->out, "#%u %s\n", v->info.id, v->partial.buf);
		strbuf_reset(&v->partial);
	}
}

/* --- json: one object per line --- */

static void json_emit(struct progress *p, json_t *o)
{
	char *s;

	json_object_set_new(o, "time", json_real(now() - p->start));
	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	fprintf(p->out, "%s\n", s);
	free(s);
	json_decref(o);
}

/*
 * @msg as a JSON string: a message may quote a name from a context or an
 * archive, which need not be UTF-8; such bytes become '?'.
 */
static json_t *json_text(const char *msg)
{
	json_t *s = json_string(msg);
	_cleanup_free_ char *ascii = NULL;

	if (s)
		return s;
	ascii = xstrdup(msg);
	for (char *c = ascii; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	return json_string(ascii);
}

static void json_step(struct progress *p, struct step_view *v)
{
	const struct build_step_info *s = &v->info;
	json_t *o = json_pack("{s:s, s:i, s:i, s:i, s:i, s:s, s:s}", "event", "step", "id", s->id,
			      "stage", s->stage, "index", s->index, "total", s->total, "text",
			      s->text, "state", state_name(s->state));

	if (s->stage_name)
		json_object_set_new(o, "stage_name", json_string(s->stage_name));
	if (s->platform)
		json_object_set_new(o, "platform", json_string(s->platform));
	if (s->state == BUILD_STEP_DONE || s->state == BUILD_STEP_FAILED)
		json_object_set_new(o, "seconds", json_real(s->seconds));
	if (s->state == BUILD_STEP_FAILED && s->exit_status >= 0)
		json_object_set_new(o, "exit_status", json_integer(s->exit_status));
	json_emit(p, o);
}

static void json_output(struct progress *p, struct step_view *v, const char *buf, size_t len)
{
	json_emit(p, json_pack("{s:s, s:i, s:s%}", "event", "output", "id", v->info.id, "data", buf,
			       len));
}

/* --- tty: a live view redrawn in place --- */

static void tty_draw(struct progress *p, bool final)
{
	struct strbuf sb = STRBUF_INIT;
	unsigned lines = 0;
	double t = now();

	for (unsigned i = 0; i < p->drawn_lines; i++)
		strbuf_addstr(&sb, "\033[1A\033[2K");
	strbuf_addf(&sb, "[+] Building %.1fs\n", t - p->start);
	lines++;
	for (size_t i = 0; i < p->n_steps; i++) {
		struct step_view *v = &p->steps[i];
		const struct build_step_info *s = &v->info;

		strbuf_addstr(&sb, " => ");
		step_label(&sb, s);
		switch (s->state) {
		case BUILD_STEP_RUNNING:
			strbuf_addf(&sb, "  %.1fs\n", t - v->started);
			break;
		case BUILD_STEP_CACHED:
			strbuf_addstr(&sb, "  CACHED\n");
			break;
		case BUILD_STEP_DONE:
			strbuf_addf(&sb, "  %.1fs\n", s->seconds);
			break;
		case BUILD_STEP_FAILED:
			strbuf_addf(&sb, "  ERROR\n");
			break;
		}
		lines++;
		if (s->state != BUILD_STEP_RUNNING || final || !v->tail.len)
			continue;
		for (const char *l = v->tail.buf; *l;) {
			const char *nl = strchr(l, '\n');
			size_t n = nl ? (size_t)(nl - l) : strlen(l);

			strbuf_addstr(&sb, " => > ");
			strbuf_add(&sb, l, MIN(n, (size_t)100));
			strbuf_addch(&sb, '\n');
			lines++;
			l += n + (nl != NULL);
		}
	}
	fwrite(sb.buf, 1, sb.len, p->out);
	fflush(p->out);
	p->drawn_lines = lines;
	strbuf_release(&sb);
}

static void *ticker_main(void *arg)
{
	struct progress *p = arg;

	for (;;) {
		struct timespec ts = {.tv_nsec = 200 * 1000 * 1000};

		nanosleep(&ts, NULL);
		pthread_mutex_lock(&p->lock);
		if (p->stop) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		tty_draw(p, false);
		pthread_mutex_unlock(&p->lock);
	}
}

/* --- the callbacks --- */

static void on_step(void *ud, const struct build_step_info *info)
{
	struct progress *p = ud;
	struct step_view *v;

	pthread_mutex_lock(&p->lock);
	v = find_step(p, info);
	v->info.state = info->state;
	v->info.seconds = info->seconds;
	v->info.exit_status = info->exit_status;
	if (p->mode == PROGRESS_PLAIN)
		plain_step(p, v);
	else if (p->mode == PROGRESS_JSON)
		json_step(p, v);
	else if (p->mode == PROGRESS_TTY)
		tty_draw(p, false);
	pthread_mutex_unlock(&p->lock);
}

static void on_output(void *ud, const struct build_step_info *info, const char *buf, size_t len)
{
	struct progress *p = ud;
	struct step_view *v;

	pthread_mutex_lock(&p->lock);
	v = find_step(p, info);
	tail_add(&v->tail, buf, len, p->mode == PROGRESS_TTY ? TAIL_LINES : FAIL_LINES);
	if (p->mode == PROGRESS_PLAIN)
		plain_output(p, v, buf, len);
	else if (p->mode == PROGRESS_JSON)
		json_output(p, v, buf, len);
	pthread_mutex_unlock(&p->lock);
}

static void on_message(void *ud, const char *msg)
{
	struct progress *p = ud;

	pthread_mutex_lock(&p->lock);
	if (p->mode == PROGRESS_PLAIN)
		fprintf(p->out, "# %s\n", msg);
	else if (p->mode == PROGRESS_JSON)
		json_emit(p,
			  json_pack("{s:s, s:o}", "event", "message", "message", json_text(msg)));
	pthread_mutex_unlock(&p->lock);
}

/*
 * json: an event in the stream; tty: above the live view, which is drawn
 * again below it; plain and quiet: the "kiln: warning: " line as ever.
 */
static void on_warning(void *ud, const char *msg)
{
	struct progress *p = ud;

	pthread_mutex_lock(&p->lock);
	if (p->mode == PROGRESS_JSON) {
		json_emit(p,
			  json_pack("{s:s, s:o}", "event", "warning", "message", json_text(msg)));
	} else if (p->mode == PROGRESS_TTY) {
		for (unsigned i = 0; i < p->drawn_lines; i++)
			fputs("\033[1A\033[2K", p->out);
		p->drawn_lines = 0;
		log_write(p->out, LOG_LEVEL_WARN, msg);
		tty_draw(p, false);
	} else {
		log_write(p->out, LOG_LEVEL_WARN, msg);
	}
	pthread_mutex_unlock(&p->lock);
}

struct progress *progress_new(enum progress_mode mode, FILE *out)
{
	struct progress *p = xcalloc(1, sizeof(*p));

	if (mode == PROGRESS_AUTO)
		mode = isatty(fileno(out)) && getenv("TERM") && !streq(getenv("TERM"), "dumb")
			       ? PROGRESS_TTY
			       : PROGRESS_PLAIN;
	p->mode = mode;
	p->out = out;
	p->start = now();
	pthread_mutex_init(&p->lock, NULL);
	if (mode == PROGRESS_TTY && pthread_create(&p->ticker, NULL, ticker_main, p) == 0)
		p->ticking = true;
	return p;
}

void progress_events(struct progress *p, struct build_events *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->userdata = p;
	ret->step = on_step;
	ret->output = on_output;
	ret->message = on_message;
	ret->warning = on_warning;
}

enum progress_mode progress_get_mode(const struct progress *p)
{
	return p->mode;
}

void progress_finish(struct progress *p, bool ok)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_mutex_unlock(&p->lock);
	if (p->ticking)
		pthread_join(p->ticker, NULL);
	p->ticking = false;
	if (p->mode == PROGRESS_TTY) {
		tty_draw(p, true);
		/* a failed step's last lines stay on screen */
		for (size_t i = 0; i < p->n_steps && !ok; i++) {
			struct step_view *v = &p->steps[i];

			if (v->info.state != BUILD_STEP_FAILED || !v->tail.len)
				continue;
			fprintf(p->out, "------\n%s%s------\n", v->tail.buf,
				strbuf_endswith(&v->tail, "\n") ? "" : "\n");
		}
	}
	fflush(p->out);
}

void progress_free(struct progress *p)
{
	if (!p)
		return;
	if (p->ticking)
		progress_finish(p, true);
	for (size_t i = 0; i < p->n_steps; i++) {
		free((char *)p->steps[i].info.text);
		free((char *)p->steps[i].info.stage_name);
		free((char *)p->steps[i].info.platform);
		strbuf_release(&p->steps[i].partial);
		strbuf_release(&p->steps[i].tail);
	}
	free(p->steps);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
