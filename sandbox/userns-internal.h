/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct kiln_error;

/* One line of /etc/subuid or /etc/subgid: "NAME-or-ID:START:COUNT". */
struct subid_range {
	uint32_t start;
	uint32_t count;
};

/*
 * Find the first range of the user called @name (may be NULL) or numbered
 * @id in the text @content of a subuid/subgid file. Blank lines, comments and
 * malformed lines are skipped. Returns 1 and sets *ret when found, else 0.
 */
int subid_find(const char *content, const char *name, uint32_t id, struct subid_range *ret);

/* The same, reading @path; a missing file is "not found". */
int subid_find_in_file(const char *path, const char *name, uint32_t id, struct subid_range *ret,
		       struct kiln_error **err);

struct strv;
/*
 * The command line of newuidmap/newgidmap (@tool) for @pid: container id 0 is
 * @self, 1..MIN(range->count, 65535) come from @range.
 */
void subid_map_args(struct strv *args, const char *tool, pid_t pid, uint32_t self,
		    const struct subid_range *range);

/* True when the process is in the initial user namespace (uid_map is the identity). */
bool userns_is_initial(void);
