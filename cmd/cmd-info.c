/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln info: what kiln can do here and why (README.md, "Building in an
 * unprivileged container"): the store, the storage and the isolation a build
 * would get, user namespaces, subordinate ids, seccomp, overlayfs, and the
 * user-mode network helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/builder.h"
#include "cmd/cmd.h"
#include "layers/layers.h"
#include "sandbox/sandbox.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* The report: keys in the order printed, values malloc'd. */
struct info {
	json_t *obj;
	struct strbuf text;
};

/* A choice: "NAME (WHY)" in text; "KEY": NAME and "KEY_why": WHY in json. */
static void add_choice(struct info *in, const char *key, const char *label, const char *name,
		       char *why)
{
	_cleanup_free_ char *why_key = xasprintf("%s_why", key);

	json_object_set_new(in->obj, key, json_string(name));
	json_object_set_new(in->obj, why_key, json_string(why));
	strbuf_addf(&in->text, "%-17s %s (%s)\n", label, name, why);
	free(why);
}

static void add(struct info *in, const char *key, const char *label, char *value)
{
	json_object_set_new(in->obj, key, json_string(value));
	strbuf_addf(&in->text, "%-17s %s\n", label, value);
	free(value);
}

static char *subids(const char *path, const char *user, uid_t uid)
{
	unsigned start, count;
	struct kiln_error *e = NULL;
	int r = sandbox_subids(path, user, uid, &start, &count, &e);
	char *v;

	if (r < 0) {
		v = xasprintf("unreadable: %s", e->msg);
		err_free(e);
		return v;
	}
	if (r == 0)
		return xasprintf("none for '%s' in %s", user, path);
	return xasprintf("%u-%u (%u ids, %s)", start, start + count - 1, count, path);
}

static char *find_in_path(const char *name)
{
	_cleanup_free_ char *dirs = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	char *save = NULL;

	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *p = fs_path_join(d, name);

		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return xstrdup("not found");
}

static char *seccomp_state(void)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const char *p;

	if (strbuf_read_file(&sb, AT_FDCWD, "/proc/self/status", NULL) < 0 ||
	    !(p = strstr(sb.buf, "\nSeccomp:")))
		return xstrdup("unknown (no Seccomp line in /proc/self/status)");
	p += strlen("\nSeccomp:");
	p += strspn(p, " \t");
	if (*p == '2')
		return xstrdup("available (kiln itself runs under a filter: a container's)");
	if (*p == '1')
		return xstrdup("strict mode: no filter can be added");
	return xstrdup("available");
}

static const char *userns_name(enum sandbox_userns_mode m)
{
	switch (m) {
	case SANDBOX_USERNS_SUBID:
		return "entered, with subordinate ids mapped (0-65535)";
	case SANDBOX_USERNS_SINGLE:
		return "entered, one id mapped (chown to another id fails in RUN)";
	case SANDBOX_USERNS_ROOT:
		return "entered by root, which has no CAP_SYS_ADMIN (its ids mapped to themselves)";
	case SANDBOX_USERNS_INHERITED:
		return "inherited (kiln is root of a user namespace it did not make)";
	default:
		return "not needed (real root)";
	}
}

static char *overlay_state(const char *root, enum build_isolation iso)
{
	_cleanup_free_ char *tmp = fs_path_join(root, "tmp");
	struct kiln_error *e = NULL;
	struct stat st;
	const char *dir = stat(tmp, &st) == 0 ? tmp : "/tmp";
	int r;

	if (iso == BUILD_ISOLATION_CHROOT)
		return xstrdup("not tried (no mount namespace can be made)");
	r = sandbox_overlay_supported(dir, &e);
	if (r < 0) {
		char *v = xasprintf("not known: %s", e->msg);

		err_free(e);
		return v;
	}
	return xasprintf("%s (upper layer in '%s')", r ? "yes" : "no", dir);
}

static void gather(struct info *in, const char *root)
{
	uid_t uid = getuid();
	struct passwd *pw = getpwuid(uid);
	_cleanup_free_ char *user = pw ? xstrdup(pw->pw_name) : xasprintf("%u", (unsigned)uid);
	char *uid_range = subids("/etc/subuid", user, uid), *gid_range;
	struct kiln_error *e = NULL;
	enum log_level level = log_get_level();
	const char *why = NULL;
	enum build_isolation iso;
	char *userns, *ovl;
	bool no_userns;

	gid_range = subids("/etc/subgid", user, uid);
	if (level < LOG_LEVEL_DEBUG)
		log_set_level(LOG_LEVEL_ERROR); /* the single-id warning is for builds */
	no_userns = builder_prepare(&e) < 0;
	log_set_level(level);
	userns = no_userns ? xasprintf("unavailable: %s", e->msg)
			   : xstrdup(userns_name(sandbox_userns_mode()));
	iso = builder_auto_isolation(&why);
	ovl = overlay_state(root, iso);
	add(in, "store", "store:", xstrdup(root));
	if (no_userns)
		add_choice(in, "isolation", "isolation:", "none",
			   xasprintf("RUN cannot run here: %s", e->msg));
	else if (iso == BUILD_ISOLATION_SANDBOX && sandbox_reduced_why())
		add_choice(in, "isolation", "isolation:", "reduced sandbox",
			   xstrdup(sandbox_reduced_why()));
	else if (iso == BUILD_ISOLATION_SANDBOX)
		add_choice(in, "isolation", "isolation:", "sandbox",
			   xstrdup("user, mount, pid, uts and ipc namespaces can be made"));
	else
		add_choice(in, "isolation", "isolation:", "chroot",
			   xasprintf("no namespaces: %s", why));
	if (no_userns)
		add_choice(in, "storage", "storage:", "copy",
			   xstrdup("no namespace to mount overlayfs in"));
	else if (iso == BUILD_ISOLATION_CHROOT)
		add_choice(in, "storage", "storage:", "copy", xstrdup("chroot isolation needs it"));
	else if (strncmp(ovl, "yes", 3) == 0)
		add_choice(in, "storage", "storage:", "overlay",
			   xstrdup("overlayfs can be mounted"));
	else
		add_choice(in, "storage", "storage:", "copy", xasprintf("overlayfs: %s", ovl));
	add(in, "user", "user:", xasprintf("%s (uid %u)", user, (unsigned)uid));
	add(in, "userns", "user namespace:", userns);
	add(in, "subuid", "subuid:", uid_range);
	add(in, "subgid", "subgid:", gid_range);
	add(in, "seccomp", "seccomp:", seccomp_state());
	add(in, "overlay", "overlay:", ovl);
	add(in, "pasta", "pasta:", find_in_path("pasta"));
	add(in, "slirp4netns", "slirp4netns:", find_in_path("slirp4netns"));
	err_free(e);
}

const struct cmd_option cmd_info_options[] = {
	{"format", 0, required_argument, 'f', "text|json",
	 "text (the default), or one JSON object with the\n"
	 "same keys"},
	{"root", 0, required_argument, 'r', "DIR", "the store (default as for kiln build)"},
	CMD_OPTION_END,
};

int cmd_info(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(cmd_getopt_release) struct cmd_getopt g;
	_cleanup_free_ char *root = NULL;
	struct info in = {.obj = json_object(), .text = STRBUF_INIT};
	const char *format = "text";
	int c;

	optind = 1;
	cmd_getopt_init(&g, cmd_info_options);
	opterr = 0;
	while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		if (c == 'f') {
			format = optarg;
		} else if (c == 'r') {
			free(root);
			root = xstrdup(optarg);
		} else {
			json_decref(in.obj);
			if (c == ':')
				return err_usage(err, "info: option '%s' needs an argument",
						 argv[optind - 1]);
			return err_usage(err, "info: unknown option '%s' (see 'kiln help info')",
					 argv[optind - 1]);
		}
	}
	if (optind < argc || (!streq(format, "text") && !streq(format, "json"))) {
		json_decref(in.obj);
		return err_usage(err, "info: expected [--format text|json] [--root DIR]");
	}
	if (!root)
		root = store_default_root(); /* the caller's, before any user namespace */
	gather(&in, root);
	if (streq(format, "json")) {
		json_dumpf(in.obj, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		fputs(in.text.buf, stdout);
	}
	json_decref(in.obj);
	strbuf_release(&in.text);
	return 0;
}
