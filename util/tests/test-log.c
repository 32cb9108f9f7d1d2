/* SPDX-License-Identifier: Apache-2.0 */
/* The log's handler: the one channel warnings take when the build renders them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "util/log.h"
#include "util/strv.h"

struct seen {
	struct strv msgs;
	enum log_level last;
};

static void record(void *userdata, enum log_level level, const char *msg)
{
	struct seen *s = userdata;

	strv_push(&s->msgs, msg);
	s->last = level;
}

TEST(handler_gets_the_message_alone)
{
	struct seen s = {STRV_INIT, LOG_LEVEL_DEBUG};
	struct log_handler h = {record, &s}, old = {NULL, NULL};

	log_set_level(LOG_LEVEL_WARN);
	log_set_handler(&h, &old);
	ASSERT_NULL(old.fn); /* stderr before */
	errno = EBUSY;
	log_warn("cannot record '%s', ignoring", "x");
	ASSERT_EQ(errno, EBUSY); /* as log_msg always kept it */
	log_info("below the level: not sent");
	log_set_handler(&old, NULL);
	ASSERT_EQ(s.msgs.n, 1);
	ASSERT_STREQ(s.msgs.v[0], "cannot record 'x', ignoring");
	ASSERT_EQ(s.last, LOG_LEVEL_WARN);
	/* restored: nothing more reaches the handler */
	log_warn("to stderr");
	ASSERT_EQ(s.msgs.n, 1);
	strv_clear(&s.msgs);
}

TEST(log_write_is_the_stderr_line)
{
	char buf[128] = {0};
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	ASSERT_NOT_NULL(f);
	log_write(f, LOG_LEVEL_WARN, "one or more build args were not consumed: [X]");
	fclose(f);
	ASSERT_STREQ(buf, "kiln: warning: one or more build args were not consumed: [X]\n");
}

TAP_MAIN(TAP_ENTRY(handler_gets_the_message_alone), TAP_ENTRY(log_write_is_the_stderr_line))
