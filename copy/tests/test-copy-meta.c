/* SPDX-License-Identifier: Apache-2.0 */
/* --chmod, --chown name resolution, --exclude patterns, the content key and the stat cache. */
#include <sys/xattr.h>
#include <time.h>

#include "copy-test.h"

TEST(chmod_parse_and_apply)
{
	static const struct {
		const char *spec;
		mode_t old;
		bool is_dir;
		mode_t want;
	} cases[] = {
		{"755", 0644, false, 0755},    {"0640", 0777, false, 0640},
		{"4755", 0644, false, 04755},  {"u+x", 0644, false, 0744},
		{"g-w", 0664, false, 0644},    {"u+x,g-w", 0664, false, 0744},
		{"a=r", 0777, false, 0444},    {"o=", 0777, false, 0770},
		{"+x", 0644, false, 0755},     {"a+X", 0644, false, 0644},
		{"a+X", 0644, true, 0755},     {"a+X", 0744, false, 0755},
		{"go-rwx", 0777, false, 0700}, {"u+s", 0755, false, 04755},
		{"ug=rw,o=r", 0, false, 0664}, {"+t", 0777, true, 01777},
	};
	static const char *const bad[] = {"", "9", "888", "u", "u+q", "x+r", "07777777", "u+x,"};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct copy_chmod c;

		ASSERT_EQ(copy_chmod_parse(cases[i].spec, &c, NULL), 0);
		if (copy_chmod_apply(&c, cases[i].old, cases[i].is_dir) != cases[i].want)
			printf("# '%s' on %o\n", cases[i].spec, cases[i].old);
		ASSERT_EQ(copy_chmod_apply(&c, cases[i].old, cases[i].is_dir), cases[i].want);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct copy_chmod c;
		struct kiln_error *e = NULL;

		if (copy_chmod_parse(bad[i], &c, &e) >= 0)
			printf("# '%s' accepted\n", bad[i]);
		ASSERT_TRUE(e != NULL);
		ASSERT_TRUE(t_contains(e->msg, "invalid --chmod"));
		err_free(e);
	}
}

TEST(chown_resolves_names_inside_the_image)
{
	static const struct {
		const char *spec;
		uid_t uid;
		gid_t gid;
	} cases[] = {
		{"1000:1001", 1000, 1001},
		{"1000", 1000, 1000},
		{"myuser", 1500, 1600},
		{"myuser:staff", 1500, 50},
		{"myuser:7", 1500, 7},
		{"0:wheel", 0, 10},
		{"root", 0, 0},
		{"nogroup:staff", 65534, 50},
	};
	static const char *const bad[] = {"nobody", "myuser:nope", ":", "", "myuser:"};

	t_reset();
	t_write(rootfd, "etc/passwd",
		"root:x:0:0:root:/root:/bin/sh\n"
		"# comment\n"
		"myuserx:x:1:1::/:/bin/sh\n"
		"myuser:x:1500:1600:My User:/home/myuser:/bin/sh\n"
		"nogroup:x:65534:65534::/:/bin/false",
		0644);
	t_write(rootfd, "etc/group", "root:x:0:\nwheel:x:10:\nstaff:x:50:myuser\n", 0644);
	/* a symlinked /etc/passwd is read inside the root, never the host's */
	t_symlink(rootfd, "/etc/passwd", "etc/pw-link");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct copy_chown c = {0};

		if (copy_chown_resolve(rootfd, cases[i].spec, &c, NULL) < 0)
			printf("# '%s' failed\n", cases[i].spec);
		ASSERT_EQ(copy_chown_resolve(rootfd, cases[i].spec, &c, NULL), 0);
		ASSERT_TRUE(c.set);
		ASSERT_EQ(c.uid, cases[i].uid);
		ASSERT_EQ(c.gid, cases[i].gid);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct copy_chown c = {0};
		struct kiln_error *e = NULL;

		ASSERT_TRUE(copy_chown_resolve(rootfd, bad[i], &c, &e) < 0);
		ASSERT_TRUE(t_contains(e->msg, "unable to find"));
		err_free(e);
	}
	/* an image whose /etc/passwd escapes: the host's root entry must not be found */
	t_reset();
	t_mkdirs(rootfd, "etc");
	t_symlink(rootfd, "../../../../../../etc/passwd", "etc/passwd");
	{
		struct copy_chown c = {0};

		ASSERT_TRUE(copy_chown_resolve(rootfd, "root", &c, NULL) < 0);
	}
}

/* USER's rules (runc): a uid alone takes its passwd group, else 0; HOME and groups. */
TEST(user_resolves_like_the_runtime)
{
	struct copy_chown c = {0};
	_cleanup_free_ char *name = NULL, *home = NULL;
	_cleanup_free_ gid_t *groups = NULL;
	size_t n = 0;

	t_reset();
	t_write(rootfd, "etc/passwd",
		"root:x:0:0:root:/root:/bin/sh\nmyuser:x:1500:1600::/home/myuser:/bin/sh\n"
		"nohome:x:1700:1700::",
		0644);
	t_write(rootfd, "etc/group",
		"root:x:0:\nstaff:x:50:other,myuser\nmyusers:x:60:myuserx\nlast:x:70:myuser", 0644);
	ASSERT_EQ(copy_user_resolve(rootfd, "1500", &c, NULL), 0);
	ASSERT_EQ(c.gid, 1600);
	ASSERT_EQ(copy_user_resolve(rootfd, "4321", &c, NULL), 0);
	ASSERT_EQ(c.uid, 4321);
	ASSERT_EQ(c.gid, 0);
	ASSERT_EQ(copy_user_resolve(rootfd, "4321:7", &c, NULL), 0);
	ASSERT_EQ(c.gid, 7);
	ASSERT_EQ(copy_user_resolve(rootfd, "myuser", &c, NULL), 0);
	ASSERT_EQ(c.gid, 1600);

	ASSERT_EQ(copy_user_entry(rootfd, 1500, &name, &home, NULL), 0);
	ASSERT_STREQ(name, "myuser");
	ASSERT_STREQ(home, "/home/myuser");
	free(TAKE_PTR(name));
	free(TAKE_PTR(home));
	ASSERT_EQ(copy_user_entry(rootfd, 1700, &name, &home, NULL), 0);
	ASSERT_NULL(home);
	free(TAKE_PTR(name));
	ASSERT_EQ(copy_user_entry(rootfd, 4321, &name, &home, NULL), -ENOENT);

	ASSERT_EQ(copy_user_groups(rootfd, "myuser", &groups, &n, NULL), 0);
	ASSERT_EQ(n, 2);
	ASSERT_EQ(groups[0], 50);
	ASSERT_EQ(groups[1], 70);
}

TEST(exclude_pattern_matching)
{
	struct copy_patterns p = {0};

	copy_patterns_add(&p, "*.txt");
	copy_patterns_add(&p, "build/");
	copy_patterns_add(&p, "**/tmp");
	copy_patterns_add(&p, "./docs/*.md");
	copy_patterns_add(&p, "!docs/keep.md");
	ASSERT_TRUE(copy_patterns_match(&p, "a.txt"));
	ASSERT_FALSE(copy_patterns_match(&p, "sub/a.txt"));
	ASSERT_TRUE(copy_patterns_match(&p, "build"));
	ASSERT_TRUE(copy_patterns_match(&p, "build/x/y.o"));
	ASSERT_TRUE(copy_patterns_match(&p, "tmp"));
	ASSERT_TRUE(copy_patterns_match(&p, "a/b/tmp/c"));
	ASSERT_TRUE(copy_patterns_match(&p, "docs/x.md"));
	ASSERT_FALSE(copy_patterns_match(&p, "docs/keep.md"));
	ASSERT_FALSE(copy_patterns_match(&p, "src/main.c"));
	ASSERT_TRUE(p.has_negation);
	copy_patterns_clear(&p);
	ASSERT_FALSE(copy_patterns_match(&p, "a.txt"));
}

/* ---- the content key ------------------------------------------------------------------------ */

static void digest_of(const struct copy_opts *o, char hex[65])
{
	struct kiln_error *e = NULL;

	if (copy_digest(o, hex, &e) < 0) {
		printf("# copy_digest: %s\n", e->msg);
		hex[0] = '\0';
	}
	err_free(e);
}

static void age(int dfd, const char *path, time_t when)
{
	struct timespec t[2] = {{when, 0}, {when, 0}};

	utimensat(dfd, path, t, AT_SYMLINK_NOFOLLOW);
}

static void make_tree(void)
{
	t_reset();
	t_write(ctxfd, "app/a.txt", "A", 0644);
	t_write(ctxfd, "app/sub/b.bin", "BBBB", 0755);
	t_symlink(ctxfd, "a.txt", "app/link");
	t_write(ctxfd, "app/ignored.log", "L", 0644);
	age(ctxfd, "app/a.txt", 1000000000);
	age(ctxfd, "app/sub/b.bin", 1000000000);
}

static bool ign_log(const char *rel, bool is_dir, void *ud)
{
	size_t n = strlen(rel);

	(void)is_dir;
	(void)ud;
	return n > 4 && strcmp(rel + n - 4, ".log") == 0;
}

TEST(digest_follows_what_lands_in_the_image)
{
	static const char *const src[] = {"app"};
	struct copy_opts o = t_opts("/dst/", src, 1);
	char base[65], h[65];

	make_tree();
	o.excluded = ign_log;
	digest_of(&o, base);
	ASSERT_EQ(strlen(base), 64);
	digest_of(&o, h);
	ASSERT_STREQ(h, base);
	/* mtime alone: same key (Docker's cache ignores mtimes) */
	age(ctxfd, "app/a.txt", 1100000000);
	age(ctxfd, "app/sub", 1100000000);
	digest_of(&o, h);
	ASSERT_STREQ(h, base);
	/* an excluded file changing: same key */
	t_write(ctxfd, "app/ignored.log", "LL", 0644);
	digest_of(&o, h);
	ASSERT_STREQ(h, base);
	/* content */
	t_write(ctxfd, "app/a.txt", "a", 0644);
	digest_of(&o, h);
	ASSERT_TRUE(strcmp(h, base) != 0);
	t_write(ctxfd, "app/a.txt", "A", 0644);
	digest_of(&o, h);
	ASSERT_STREQ(h, base);
	/* mode */
	fchmodat(ctxfd, "app/a.txt", 0600, 0);
	digest_of(&o, h);
	ASSERT_TRUE(strcmp(h, base) != 0);
	fchmodat(ctxfd, "app/a.txt", 0644, 0);
	/* symlink target */
	t_symlink(ctxfd, "sub/b.bin", "app/link");
	digest_of(&o, h);
	ASSERT_TRUE(strcmp(h, base) != 0);
	t_symlink(ctxfd, "a.txt", "app/link");
	/* two files becoming hardlinks of each other (same content, same modes) */
	t_write(ctxfd, "app/sub/twin", "A", 0644);
	age(ctxfd, "app/sub/twin", 1000000000);
	digest_of(&o, base);
	unlinkat(ctxfd, "app/sub/twin", 0);
	ASSERT_EQ(linkat(ctxfd, "app/a.txt", ctxfd, "app/sub/twin", 0), 0);
	digest_of(&o, h);
	ASSERT_TRUE(strcmp(h, base) != 0);
	unlinkat(ctxfd, "app/sub/twin", 0);
	digest_of(&o, base);
	/* an xattr that COPY keeps (with the stat cache: a new xattr changes the ctime) */
	{
		char path[256];
		struct copy_stat_cache *sc = copy_stat_cache_load(topfd, "sc-x");

		o.stat_cache = sc;
		digest_of(&o, base);
		snprintf(path, sizeof(path), "%s/ctx/app/a.txt", top);
		if (setxattr(path, "user.kiln", "1", 1, 0) == 0) {
			digest_of(&o, h);
			ASSERT_TRUE(strcmp(h, base) != 0);
			removexattr(path, "user.kiln");
			digest_of(&o, h);
			ASSERT_STREQ(h, base);
		}
		o.stat_cache = NULL;
		copy_stat_cache_free(sc);
	}
	/* a new file */
	t_write(ctxfd, "app/new", "", 0644);
	digest_of(&o, h);
	ASSERT_TRUE(strcmp(h, base) != 0);
	unlinkat(ctxfd, "app/new", 0);
	digest_of(&o, h);
	ASSERT_STREQ(h, base);
}

TEST(digest_follows_the_options)
{
	static const char *const src[] = {"app"};
	struct copy_opts o = t_opts("/dst/", src, 1);
	struct copy_patterns ex = {0};
	char base[65], h[65];

	make_tree();
	digest_of(&o, base);
	o.chown = (struct copy_chown){.set = true, .uid = 1, .gid = 1};
	digest_of(&o, h);
	ASSERT_TRUE(strcmp(h, base) != 0);
	o.chown.gid = 2;
	{
		char h2[65];

		digest_of(&o, h2);
		ASSERT_TRUE(strcmp(h, h2) != 0);
	}
	o.chown.set = false;
	ASSERT_EQ(copy_chmod_parse("u+x", &o.chmod, NULL), 0);
	digest_of(&o, h);
	ASSERT_TRUE(strcmp(h, base) != 0);
	o.chmod.set = false;
	o.dest = "/other/";
	digest_of(&o, h);
	ASSERT_TRUE(strcmp(h, base) != 0);
	o.dest = "/dst/";
	copy_patterns_add(&ex, "**/*.bin");
	o.excludes = &ex;
	digest_of(&o, h);
	ASSERT_TRUE(strcmp(h, base) != 0);
	o.excludes = NULL;
	o.parents = true;
	digest_of(&o, h);
	ASSERT_TRUE(strcmp(h, base) != 0);
	o.parents = false;
	digest_of(&o, h);
	ASSERT_STREQ(h, base);
	copy_patterns_clear(&ex);
}

TEST(digest_of_archive_ignores_chown)
{
	static const char *const src[] = {"x.tar"};
	struct copy_opts o = t_opts("/dst/", src, 1);
	char base[65], h[65];

	t_reset();
	t_write(topfd, "p/f", "F", 0644);
	if (system("cd /tmp && true") != 0)
		return;
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "tar -C %s/p -cf %s/ctx/x.tar .", top, top);
		ASSERT_EQ(system(cmd), 0);
	}
	o.add = true;
	digest_of(&o, base);
	o.chown = (struct copy_chown){.set = true, .uid = 5, .gid = 5};
	digest_of(&o, h);
	ASSERT_STREQ(h, base);
	/* but COPY of the same file does see the owner */
	o.add = false;
	digest_of(&o, base);
	o.chown.set = false;
	digest_of(&o, h);
	ASSERT_TRUE(strcmp(h, base) != 0);
}

static void settle(void)
{
	/* entries changed in the last 2 s are never trusted (racy mtime/ctime) */
	nanosleep(&(struct timespec){2, 100000000}, NULL);
}

TEST(stat_cache_spares_reads)
{
	static const char *const src[] = {"app"};
	struct copy_opts o = t_opts("/dst/", src, 1);
	struct copy_stat_cache *c;
	char nocache[65], h[65], h2[65];
	unsigned long before;

	make_tree();
	age(ctxfd, "app/ignored.log", 1000000000);
	settle();
	digest_of(&o, nocache);
	c = copy_stat_cache_load(topfd, "statcache");
	o.stat_cache = c;
	before = copy_content_reads;
	digest_of(&o, h);
	ASSERT_STREQ(h, nocache);
	ASSERT_EQ(copy_content_reads - before, 3); /* a.txt, b.bin, ignored.log */
	before = copy_content_reads;
	digest_of(&o, h);
	ASSERT_STREQ(h, nocache);
	ASSERT_EQ(copy_content_reads - before, 0);
	ASSERT_EQ(copy_stat_cache_save(c, NULL), 0);
	copy_stat_cache_free(c);
	/* from the file, in a new "process" */
	c = copy_stat_cache_load(topfd, "statcache");
	o.stat_cache = c;
	before = copy_content_reads;
	digest_of(&o, h);
	ASSERT_STREQ(h, nocache);
	ASSERT_EQ(copy_content_reads - before, 0);
	/* rewritten in place, same size, mtime put back (rsync --inplace -t): the ctime
	 * tells; read while racy, then once more when settled, then cached */
	{
		int fd = openat(ctxfd, "app/a.txt", O_WRONLY | O_CLOEXEC);

		ASSERT_TRUE(fd >= 0 && write(fd, "Z", 1) == 1);
		close(fd);
		age(ctxfd, "app/a.txt", 1000000000);
	}
	before = copy_content_reads;
	digest_of(&o, h);
	ASSERT_EQ(copy_content_reads - before, 1);
	ASSERT_TRUE(strcmp(h, nocache) != 0);
	settle();
	copy_stat_cache_free(c);
	c = copy_stat_cache_load(topfd, "statcache");
	o.stat_cache = c;
	before = copy_content_reads;
	digest_of(&o, h2);
	ASSERT_STREQ(h2, h);
	ASSERT_EQ(copy_content_reads - before, 1);
	before = copy_content_reads;
	digest_of(&o, h2);
	ASSERT_STREQ(h2, h);
	ASSERT_EQ(copy_content_reads - before, 0);
	/* a file written just now is read once per build: its entry is never saved */
	t_write(ctxfd, "app/fresh", "F", 0644);
	before = copy_content_reads;
	digest_of(&o, h);
	digest_of(&o, h);
	ASSERT_EQ(copy_content_reads - before, 1);
	ASSERT_EQ(copy_stat_cache_save(c, NULL), 0);
	copy_stat_cache_free(c);
	c = copy_stat_cache_load(topfd, "statcache");
	o.stat_cache = c;
	before = copy_content_reads;
	digest_of(&o, h2);
	ASSERT_STREQ(h2, h);
	ASSERT_EQ(copy_content_reads - before, 1);
	copy_stat_cache_free(c);
	/* entries for files long gone are pruned once they outnumber the live ones */
	{
		struct strbuf sb = STRBUF_INIT;
		char *data;
		size_t lines = 0;

		for (int i = 0; i < 3000; i++)
			strbuf_addf(&sb, "%064d 1 2 3 4 5 gone/%d\n", 0, i);
		ASSERT_EQ(fs_atomic_write(topfd, "statcache", sb.buf, sb.len, 0644, NULL), 0);
		strbuf_release(&sb);
		c = copy_stat_cache_load(topfd, "statcache");
		o.stat_cache = c;
		digest_of(&o, h);
		ASSERT_EQ(copy_stat_cache_save(c, NULL), 0);
		copy_stat_cache_free(c);
		data = t_read(topfd, "statcache");
		for (char *q = data; q && *q; q++)
			lines += *q == '\n';
		ASSERT_TRUE(data && !strstr(data, "gone/"));
		ASSERT_TRUE(lines >= 3 && lines < 10);
		free(data);
	}
	/* a corrupt cache file is only a miss */
	t_write(topfd, "statcache", "garbage\nzz 1 2 3\n", 0644);
	c = copy_stat_cache_load(topfd, "statcache");
	o.stat_cache = c;
	digest_of(&o, h);
	ASSERT_EQ(strlen(h), 64);
	copy_stat_cache_free(c);
}

TEST(digest_of_inline_and_errors)
{
	static const struct copy_inline a[] = {{"EOF", "one", 3}}, b[] = {{"EOF", "two", 3}};
	static const char *const missing[] = {"nope"};
	struct copy_opts o = t_opts("/x", NULL, 0);
	struct kiln_error *e = NULL;
	char ha[65], hb[65];

	t_reset();
	o.inlines = a;
	o.n_inlines = 1;
	digest_of(&o, ha);
	o.inlines = b;
	digest_of(&o, hb);
	ASSERT_TRUE(strcmp(ha, hb) != 0);
	o.n_inlines = 0;
	o.sources = missing;
	o.n_sources = 1;
	ASSERT_TRUE(copy_digest(&o, ha, &e) < 0);
	ASSERT_TRUE(t_contains(e->msg, "'nope'"));
	err_free(e);
}

int main(void)
{
	static const struct tap_test tests[] = {
		TAP_ENTRY(chmod_parse_and_apply),
		TAP_ENTRY(chown_resolves_names_inside_the_image),
		TAP_ENTRY(user_resolves_like_the_runtime),
		TAP_ENTRY(exclude_pattern_matching),
		TAP_ENTRY(digest_follows_what_lands_in_the_image),
		TAP_ENTRY(digest_follows_the_options),
		TAP_ENTRY(digest_of_archive_ignores_chown),
		TAP_ENTRY(stat_cache_spares_reads),
		TAP_ENTRY(digest_of_inline_and_errors),
	};
	int r = tap_run(tests, ARRAY_SIZE(tests));

	t_teardown();
	return r;
}

bool tap_failed_;
