/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry-probe: drives the protocol layer directly, for the e2e tests
 * (not installed).
 *   registry-probe [OPTS] ping DOMAIN
 *   registry-probe [OPTS] manifest-get REF            (body on stdout)
 *   registry-probe [OPTS] manifest-put REF FILE MEDIATYPE
 *   registry-probe [OPTS] blob-get REF DIGEST FILE    (resumes FILE's bytes)
 *   registry-probe [OPTS] blob-put REF FILE [FROM-REPO]  (prints existed/mounted/sent)
 * OPTS: --tls-verify=false, --ca FILE, --user U (password on stdin), --chunk N
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/registry.h"
#include "util/error.h"
#include "util/parse.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

static struct registry_opts opts = REGISTRY_OPTS_INIT;

static int die(struct kiln_error *e)
{
	char *s = e ? err_format(e) : xstrdup("?");

	fprintf(stderr, "registry-probe: error: %s\n", s);
	free(s);
	err_free(e);
	return 1;
}

static int with_ref(const char *s, struct registry_ref *ref, struct registry_client **c,
		    struct kiln_error **err)
{
	int r = registry_ref_parse(s, ref, err);

	if (r < 0)
		return r;
	return registry_client_new(ref->domain, &opts, c, err);
}

static int do_manifest_get(char **argv, struct kiln_error **err)
{
	struct registry_ref ref;
	struct registry_client *c = NULL;
	struct registry_manifest m = {0};
	int r = with_ref(argv[0], &ref, &c, err);

	if (r == 0)
		r = registry_manifest_get(c, ref.path, ref.digest ? ref.digest : ref.tag, &m, err);
	if (r == 0) {
		fwrite(m.data, 1, m.len, stdout);
		fprintf(stderr, "%s %s\n", m.media_type, m.digest);
	}
	registry_manifest_release(&m);
	registry_client_free(c);
	registry_ref_release(&ref);
	return r;
}

static int do_manifest_put(char **argv, struct kiln_error **err)
{
	struct registry_ref ref;
	struct registry_client *c = NULL;
	struct strbuf sb = STRBUF_INIT;
	char *d = NULL;
	int r = with_ref(argv[0], &ref, &c, err);

	if (r == 0)
		r = strbuf_read_file(&sb, AT_FDCWD, argv[1], err);
	if (r >= 0)
		r = registry_manifest_put(c, ref.path, ref.tag, argv[2], sb.buf, sb.len, &d, err);
	if (r >= 0)
		printf("%s\n", d);
	free(d);
	strbuf_release(&sb);
	registry_client_free(c);
	registry_ref_release(&ref);
	return r;
}

static int do_blob_get(char **argv, struct kiln_error **err)
{
	struct registry_ref ref;
	struct registry_client *c = NULL;
	int fd = open(argv[2], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	struct stat st;
	int r = with_ref(argv[0], &ref, &c, err);

	if (r == 0 && (fd < 0 || fstat(fd, &st) < 0))
		r = err_sys(err, errno, "open '%s'", argv[2]);
	if (r == 0)
		r = registry_blob_get(c, ref.path, argv[1], fd, (uint64_t)st.st_size, UINT64_MAX,
				      err);
	if (fd >= 0)
		close(fd);
	registry_client_free(c);
	registry_ref_release(&ref);
	return r;
}

static int do_blob_put(char **argv, struct kiln_error **err)
{
	static const char *const names[] = {"existed", "mounted", "sent"};
	struct registry_ref ref;
	struct registry_client *c = NULL;
	int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	struct strbuf sb = STRBUF_INIT;
	char *digest = NULL;
	struct stat st;
	int r = with_ref(argv[0], &ref, &c, err);

	if (r == 0 && (fd < 0 || fstat(fd, &st) < 0))
		r = err_sys(err, errno, "open '%s'", argv[1]);
	if (r == 0) {
		FILE *p;
		char line[128] = "";
		char *cmd = xasprintf("sha256sum '%s'", argv[1]);

		p = popen(cmd, "r");
		if (p && fgets(line, sizeof(line), p))
			line[64] = '\0';
		if (p)
			pclose(p);
		free(cmd);
		digest = xasprintf("sha256:%s", line);
		r = registry_blob_put(c, ref.path, digest, fd, (uint64_t)st.st_size, argv[2], err);
	}
	if (r >= 0)
		printf("%s %s\n", names[r], digest);
	if (fd >= 0)
		close(fd);
	free(digest);
	strbuf_release(&sb);
	registry_client_free(c);
	registry_ref_release(&ref);
	return r;
}

static int do_ping(char **argv, struct kiln_error **err)
{
	struct registry_client *c = NULL;
	int r = registry_client_new(argv[0], &opts, &c, err);

	if (r == 0)
		r = registry_client_ping(c, err);
	if (r == 0)
		printf("ok\n");
	registry_client_free(c);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"tls-verify", required_argument, NULL, 't'},
		{"ca", required_argument, NULL, 'c'},
		{"user", required_argument, NULL, 'u'},
		{"chunk", required_argument, NULL, 'k'},
		{},
	};
	static const struct {
		const char *name;
		int nargs;
		int (*fn)(char **argv, struct kiln_error **err);
	} cmds[] = {
		{"ping", 1, do_ping},
		{"manifest-get", 1, do_manifest_get},
		{"manifest-put", 3, do_manifest_put},
		{"blob-get", 3, do_blob_get},
		{"blob-put", 2, do_blob_put},
	};
	struct kiln_error *err = NULL;
	char pass[256] = "";
	int o;

	while ((o = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		if (o == 't')
			opts.tls_verify = strcmp(optarg, "false") != 0;
		else if (o == 'c')
			opts.ca_file = optarg;
		else if (o == 'k' && parse_size(optarg, &opts.chunk_size) < 0)
			return 2;
		else if (o == 'u') {
			opts.username = optarg;
			if (!fgets(pass, sizeof(pass), stdin))
				return 2;
			pass[strcspn(pass, "\n")] = '\0';
			opts.password = pass;
		} else if (o == '?')
			return 2;
	}
	for (size_t i = 0; optind < argc && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[optind], cmds[i].name) == 0) {
			if (argc - optind - 1 < cmds[i].nargs)
				return 2;
			return cmds[i].fn(argv + optind + 1, &err) < 0 ? die(err) : 0;
		}
	fprintf(stderr,
		"usage: registry-probe [OPTS] ping|manifest-get|manifest-put|blob-get|blob-put ...\n");
	return 2;
}
