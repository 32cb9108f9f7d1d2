/* SPDX-License-Identifier: Apache-2.0 */
/* COPY/ADD metadata: --chmod, --chown (names from the image's passwd/group), --exclude. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "copy/copy-internal.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

/* ---- --chmod ------------------------------------------------------------ */

static const struct {
	char c;
	mode_t mask;
} who_table[] = {
	{'u', S_IRWXU | S_ISUID},
	{'g', S_IRWXG | S_ISGID},
	{'o', S_IRWXO | S_ISVTX},
	{'a', 07777},
};

static const struct {
	char c;
	mode_t bits; /* spread over u, g and o; masked by who */
} perm_table[] = {
	{'r', 0444}, {'w', 0222}, {'x', 0111}, {'s', S_ISUID | S_ISGID}, {'t', S_ISVTX},
};

static int parse_octal(const char *spec, struct copy_chmod *ret)
{
	char *end;
	unsigned long v;

	if (!*spec || strspn(spec, "01234567") != strlen(spec))
		return -EINVAL;
	errno = 0;
	v = strtoul(spec, &end, 8);
	if (errno || *end || v > 07777)
		return -EINVAL;
	ret->octal = true;
	ret->mode = (mode_t)v;
	return 0;
}

static mode_t who_mask(char c)
{
	for (size_t i = 0; i < ARRAY_SIZE(who_table); i++)
		if (who_table[i].c == c)
			return who_table[i].mask;
	return 0;
}

static mode_t perm_bits(char c)
{
	for (size_t i = 0; i < ARRAY_SIZE(perm_table); i++)
		if (perm_table[i].c == c)
			return perm_table[i].bits;
	return 0;
}

/* One "who op perms" clause; @p advances past it. */
static int parse_clause(const char **p, struct copy_chmod_clause *cl)
{
	const char *s = *p;
	mode_t m;

	memset(cl, 0, sizeof(*cl));
	while ((m = who_mask(*s)) != 0) {
		cl->who |= m;
		s++;
	}
	if (!cl->who)
		cl->who = 07777;
	if (*s != '+' && *s != '-' && *s != '=')
		return -EINVAL;
	cl->op = *s++;
	for (; *s && *s != ','; s++) {
		if (*s == 'X')
			cl->cond_x = true;
		else if ((m = perm_bits(*s)) != 0)
			cl->perm |= m;
		else
			return -EINVAL;
	}
	cl->perm &= cl->who;
	*p = *s == ',' ? s + 1 : s;
	return 0;
}

int copy_chmod_parse(const char *spec, struct copy_chmod *ret, struct kiln_error **err)
{
	struct copy_chmod c = {.set = true};
	const char *p = spec;

	if (parse_octal(spec, &c) == 0) {
		*ret = c;
		return 0;
	}
	if ((*spec >= '0' && *spec <= '9') || (*spec && spec[strlen(spec) - 1] == ','))
		goto bad;
	while (*p) {
		if (c.n_clauses == ARRAY_SIZE(c.clauses) ||
		    parse_clause(&p, &c.clauses[c.n_clauses]) < 0)
			goto bad;
		c.n_clauses++;
	}
	if (!c.n_clauses)
		goto bad;
	*ret = c;
	return 0;
bad:
	return err_new(err, KILN_ERR_INPUT, EINVAL,
		       "invalid --chmod '%s' (expected octal like 755 or symbolic like u+x,g-w)",
		       spec);
}

mode_t copy_chmod_apply(const struct copy_chmod *c, mode_t old, bool is_dir)
{
	mode_t mode = old & 07777;

	if (!c->set)
		return mode;
	if (c->octal)
		return c->mode;
	for (size_t i = 0; i < c->n_clauses; i++) {
		const struct copy_chmod_clause *cl = &c->clauses[i];
		mode_t bits = cl->perm;

		if (cl->cond_x && (is_dir || (mode & 0111)))
			bits |= 0111 & cl->who;
		if (cl->op == '+')
			mode |= bits;
		else if (cl->op == '-')
			mode &= ~bits;
		else
			mode = (mode & ~(cl->who & 07777)) | bits;
	}
	return mode;
}

/* ---- --chown ------------------------------------------------------------ */

static bool parse_id(const char *s, unsigned long *ret)
{
	char *end;
	unsigned long v;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX - 1)
		return false;
	*ret = v;
	return true;
}

/*
 * The image's /etc/passwd or /etc/group into @sb, only when it is a regular
 * file (resolved inside @root_fd, opened O_NONBLOCK, so a FIFO cannot hang the
 * build) of at most DB_MAX_SIZE bytes (a sparse 1 GiB file is not read).
 * -ENOENT when missing; an input error naming the file otherwise.
 */
#define DB_MAX_SIZE (1 << 20)

static int db_read(int root_fd, const char *file, struct strbuf *sb, struct kiln_error **err)
{
	_cleanup_close_ int fd =
		fs_open_in(root_fd, file, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, FS_IN_ROOT, NULL);
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return -ENOENT;
	if (fstat(fd, &st) < 0)
		return err_sys(err, errno, "stat '%s'", file);
	if (!S_ISREG(st.st_mode))
		return err_new(err, KILN_ERR_INPUT, EINVAL,
			       "'%s' is not a regular file; refusing to read it", file);
	if (st.st_size > DB_MAX_SIZE)
		return err_new(err, KILN_ERR_INPUT, EFBIG,
			       "'%s' is larger than %d bytes; refusing to read it", file,
			       DB_MAX_SIZE);
	strbuf_grow(sb, (size_t)st.st_size + 1);
	while ((n = fs_read_all(fd, sb->buf + sb->len, sb->alloc - sb->len - 1, NULL)) != 0) {
		if (n < 0)
			return err_sys(err, (int)-n, "read '%s'", file);
		strbuf_setlen(sb, sb->len + (size_t)n);
		if (sb->len >= DB_MAX_SIZE) /* it grew meanwhile: what we have is enough */
			break;
		strbuf_grow(sb, 4096);
	}
	return 0;
}

/*
 * Find the line of /etc/passwd or /etc/group whose field @key (0: the name, 2:
 * the id) is @name: field 2 (0-based) is the id, field 3 of passwd the primary
 * group, field 5 the home directory.
 */
static int db_lookup_by(int root_fd, const char *file, int key, const char *name,
			unsigned long *ret_id, unsigned long *ret_gid, char **ret_name,
			char **ret_home, struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	size_t nlen = strlen(name);
	int r = db_read(root_fd, file, &sb, err);

	if (r < 0)
		return r;
	for (char *line = sb.buf; line && *line;) {
		char *nl = strchr(line, '\n'), *f[7] = {line};
		size_t nf = 1;

		if (nl)
			*nl = '\0';
		for (char *q = line; *q && nf < 7; q++)
			if (*q == ':') {
				*q = '\0';
				f[nf++] = q + 1;
			}
		if (nf >= 3 && strlen(f[key]) == nlen && streq(f[key], name) &&
		    parse_id(f[2], ret_id)) {
			if (ret_gid && (nf < 4 || !parse_id(f[3], ret_gid)))
				return -ENOENT;
			if (ret_name)
				*ret_name = xstrdup(f[0]);
			if (ret_home)
				*ret_home = nf >= 6 && *f[5] ? xstrdup(f[5]) : NULL;
			return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

static int db_lookup(int root_fd, const char *file, const char *name, unsigned long *ret_id,
		     unsigned long *ret_gid, struct kiln_error **err)
{
	return db_lookup_by(root_fd, file, 0, name, ret_id, ret_gid, NULL, NULL, err);
}

int copy_chown_resolve(int root_fd, const char *spec, struct copy_chown *ret,
		       struct kiln_error **err)
{
	_cleanup_free_ char *user = xstrdup(spec);
	char *group = strchr(user, ':');
	unsigned long uid, gid = 0, primary = 0;

	if (group)
		*group++ = '\0';
	if (parse_id(user, &uid)) {
		gid = uid;
	} else {
		int r = *user ? db_lookup(root_fd, "/etc/passwd", user, &uid, &primary, err)
			      : -ENOENT;

		if (r < 0 && r != -ENOENT)
			return r;
		if (r < 0)
			return err_new(
				err, KILN_ERR_INPUT, ENOENT,
				"unable to find user '%s': no matching entries in passwd file",
				user);
		gid = primary;
	}
	if (group && !parse_id(group, &gid)) {
		int r = *group ? db_lookup(root_fd, "/etc/group", group, &gid, NULL, err) : -ENOENT;

		if (r < 0 && r != -ENOENT)
			return r;
		if (r < 0)
			return err_new(
				err, KILN_ERR_INPUT, ENOENT,
				"unable to find group '%s': no matching entries in group file",
				group);
	}
	ret->set = true;
	ret->uid = (uid_t)uid;
	ret->gid = (gid_t)gid;
	return 0;
}

int copy_user_resolve(int root_fd, const char *spec, struct copy_chown *ret,
		      struct kiln_error **err)
{
	unsigned long uid, gid;
	int r;

	if (strchr(spec, ':') || !parse_id(spec, &uid))
		return copy_chown_resolve(root_fd, spec, ret, err);
	/* a number needs no passwd file: one that cannot be read only loses the group */
	r = db_lookup_by(root_fd, "/etc/passwd", 2, spec, &uid, &gid, NULL, NULL, NULL);
	ret->set = true;
	ret->uid = (uid_t)uid;
	ret->gid = r < 0 ? 0 : (gid_t)gid;
	return 0;
}

int copy_user_entry(int root_fd, uid_t uid, char **ret_name, char **ret_home,
		    struct kiln_error **err)
{
	_cleanup_free_ char *id = xasprintf("%lu", (unsigned long)uid);
	unsigned long u;

	*ret_name = *ret_home = NULL;
	return db_lookup_by(root_fd, "/etc/passwd", 2, id, &u, NULL, ret_name, ret_home, err);
}

static bool member_of(const char *members, const char *name)
{
	size_t n = strlen(name);

	for (const char *m = members; *m;) {
		size_t len = strcspn(m, ",");

		if (len == n && strncmp(m, name, n) == 0)
			return true;
		m += len + (m[len] == ',');
	}
	return false;
}

int copy_user_groups(int root_fd, const char *name, gid_t **ret, size_t *ret_n,
		     struct kiln_error **err)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int r;

	*ret = NULL;
	*ret_n = 0;
	r = db_read(root_fd, "/etc/group", &sb, err);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	for (char *line = sb.buf; line && *line;) {
		char *nl = strchr(line, '\n'), *f[4] = {line};
		size_t nf = 1;
		unsigned long gid;

		if (nl)
			*nl = '\0';
		for (char *q = line; *q && nf < 4; q++)
			if (*q == ':') {
				*q = '\0';
				f[nf++] = q + 1;
			}
		if (nf == 4 && parse_id(f[2], &gid) && member_of(f[3], name)) {
			*ret = xrealloc(*ret, (*ret_n + 1) * sizeof(**ret));
			(*ret)[(*ret_n)++] = (gid_t)gid;
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* ---- --exclude patterns ------------------------------------------------------ */

struct copy_pattern {
	char **comps;
	size_t n;
	bool negate;
};

void copy_patterns_add(struct copy_patterns *p, const char *pattern)
{
	struct copy_pattern *pat;
	_cleanup_free_ char *s = NULL;
	char *save = NULL;
	bool negate = false;

	if (*pattern == '!') {
		negate = true;
		pattern++;
	}
	while (*pattern == '/' || startswith(pattern, "./"))
		pattern += *pattern == '/' ? 1 : 2;
	s = xstrdup(pattern);
	ALLOC_GROW(p->v, p->n + 1, p->alloc);
	pat = &p->v[p->n++];
	memset(pat, 0, sizeof(*pat));
	pat->negate = negate;
	p->has_negation |= negate;
	for (char *c = strtok_r(s, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (streq(c, "."))
			continue;
		pat->comps = xreallocarray(pat->comps, pat->n + 1, sizeof(char *));
		pat->comps[pat->n++] = xstrdup(c);
	}
}

static bool match_comps(char *const *pc, size_t pn, char *const *sc, size_t sn)
{
	if (pn == 0)
		return sn == 0;
	if (streq(pc[0], "**")) {
		for (size_t i = 0; i <= sn; i++)
			if (match_comps(pc + 1, pn - 1, sc + i, sn - i))
				return true;
		return false;
	}
	if (sn == 0 || fnmatch(pc[0], sc[0], 0) != 0)
		return false;
	return match_comps(pc + 1, pn - 1, sc + 1, sn - 1);
}

/* The pattern matches @path or one of its parents. */
static bool pattern_matches(const struct copy_pattern *pat, char *const *sc, size_t sn)
{
	for (size_t k = 1; k <= sn; k++)
		if (match_comps(pat->comps, pat->n, sc, k))
			return true;
	return false;
}

bool copy_patterns_match(const struct copy_patterns *p, const char *relpath)
{
	_cleanup_free_ char *s = NULL;
	_cleanup_free_ char **sc = NULL;
	size_t sn = 0, cap = 8;
	char *save = NULL;
	bool excluded = false;

	if (!p || !p->n)
		return false;
	s = xstrdup(relpath);
	sc = xreallocarray(NULL, cap, sizeof(char *));
	for (char *c = strtok_r(s, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (streq(c, "."))
			continue;
		if (sn == cap)
			sc = xreallocarray(sc, cap *= 2, sizeof(char *));
		sc[sn++] = c;
	}
	for (size_t i = 0; i < p->n; i++)
		if (excluded == p->v[i].negate && pattern_matches(&p->v[i], sc, sn))
			excluded = !excluded;
	return excluded;
}

void copy_patterns_clear(struct copy_patterns *p)
{
	for (size_t i = 0; i < p->n; i++) {
		for (size_t j = 0; j < p->v[i].n; j++)
			free(p->v[i].comps[j]);
		free(p->v[i].comps);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}
