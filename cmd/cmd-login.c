/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln login / kiln logout, and the options every registry command shares
 * (--tls-verify, --cert-file, --authfile, --creds).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cmd/cmd-registry.h"
#include "cmd/cmd.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define DOCKER_HUB_AUTH_KEY "https://index.docker.io/v1/"

/*
 * A password on the command line, copied: overwrite it where it lies in argv,
 * so that /proc/PID/cmdline (ps, and RUN in the reduced sandbox, which sees
 * the container's /proc) shows "xxx" instead, as mysql's client does.
 */
static void hide_in_argv(const char *arg)
{
	memset((char *)arg, 'x', strlen(arg));
}

int cmd_registry_option(struct cmd_registry_opts *o, const char *cmd, int opt, const char *arg,
			struct kiln_error **err)
{
	switch (opt) {
	case OPT_TLS_VERIFY:
		if (!arg || streq(arg, "true"))
			o->reg.tls_verify = 1;
		else if (streq(arg, "false"))
			o->reg.tls_verify = 0;
		else
			return err_usage(err, "%s: --tls-verify: expected true or false, got '%s'",
					 cmd, arg);
		return 1;
	case OPT_CERT_FILE:
		o->reg.ca_file = arg;
		return 1;
	case OPT_AUTHFILE:
		o->reg.auth_file = arg;
		return 1;
	case OPT_CREDS: {
		const char *colon = strchr(arg, ':');

		free(o->creds);
		o->creds = xstrdup(arg);
		o->reg.username = o->creds;
		o->reg.password = colon ? o->creds + (colon - arg) + 1 : "";
		if (colon) {
			o->creds[colon - arg] = '\0';
			hide_in_argv(colon + 1);
		}
		return 1;
	}
	case OPT_QUIET:
		o->quiet = true;
		return 1;
	default:
		return 0;
	}
}

void cmd_registry_opts_release(struct cmd_registry_opts *o)
{
	if (o->creds) {
		explicit_bzero(o->creds, strlen(o->creds) + 1 + strlen(o->reg.password));
		free(o->creds);
	}
	o->creds = NULL;
}

char *cmd_registry_domain(const char *arg)
{
	const char *s = startswith(arg, "https://");
	size_t n;

	if (!s)
		s = startswith(arg, "http://");
	if (!s)
		s = startswith(arg, "docker://");
	s = s ? s : arg;
	n = strcspn(s, "/");
	if ((n == 15 && strncmp(s, "index.docker.io", n) == 0) ||
	    (n == 20 && strncmp(s, "registry-1.docker.io", n) == 0))
		return xstrdup("docker.io");
	return xstrndup(s, n);
}

/* ---- login ---- */

static char *prompt(const char *what, bool echo)
{
	struct termios old, quiet;
	struct strbuf sb = STRBUF_INIT;
	int c;

	fprintf(stderr, "%s: ", what);
	fflush(stderr);
	if (!echo && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	}
	while ((c = getchar()) != EOF && c != '\n')
		strbuf_addch(&sb, c);
	if (!echo) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fputc('\n', stderr);
	}
	return strbuf_detach(&sb, NULL);
}

static int read_password_stdin(char **ret, struct kiln_error **err)
{
	struct strbuf sb = STRBUF_INIT;
	int r = strbuf_read_fd(&sb, STDIN_FILENO, err);

	if (r < 0) {
		strbuf_release(&sb);
		return err_wrap(err, "login: --password-stdin");
	}
	while (sb.len && (sb.buf[sb.len - 1] == '\n' || sb.buf[sb.len - 1] == '\r'))
		strbuf_setlen(&sb, sb.len - 1);
	*ret = strbuf_detach(&sb, NULL);
	return 0;
}

struct login_args {
	struct cmd_registry_opts o;
	char *user, *password;
	bool password_stdin;
	const char *registry;
};

const struct cmd_option cmd_login_options[] = {
	{"username", 'u', required_argument, 'u', "USER",
	 "the user name (asked on a terminal when missing)"},
	{"password", 'p', required_argument, 'p', "PASS",
	 "the password (visible to other users: prefer\n"
	 "--password-stdin); without -p and --password-stdin\n"
	 "it is asked for on the terminal, without echo"},
	{"password-stdin", 0, no_argument, OPT_PASSWORD_STDIN, NULL,
	 "read the password from standard input"},
	{"authfile", 0, required_argument, OPT_AUTHFILE, "FILE", "the credentials file to write"},
	{"tls-verify", 0, optional_argument, OPT_TLS_VERIFY, "true|false",
	 "--tls-verify=false: do not verify the registry's\n"
	 "TLS certificate"},
	{"cert-file", 0, required_argument, OPT_CERT_FILE, "FILE",
	 "trust the CA certificates in FILE (PEM)"},
	CMD_OPTION_END,
};

static int parse_login(int argc, char **argv, struct login_args *a, struct kiln_error **err)
{
	_cleanup_(cmd_getopt_release) struct cmd_getopt g;
	int c, r;

	cmd_getopt_init(&g, cmd_login_options);
	opterr = 0;
	while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		if (c == 'u')
			a->user = xstrdup(optarg);
		else if (c == 'p') {
			a->password = xstrdup(optarg);
			hide_in_argv(optarg);
		} else if (c == OPT_PASSWORD_STDIN)
			a->password_stdin = true;
		else if (c == ':')
			return err_usage(err, "login: option '%s' needs an argument",
					 argv[optind - 1]);
		else if ((r = cmd_registry_option(&a->o, "login", c, optarg, err)) != 0) {
			if (r < 0)
				return r;
		} else
			return err_usage(err, "login: unknown option '%s' (see 'kiln help login')",
					 argv[optind - 1]);
	}
	if (argc - optind > 1)
		return err_usage(err, "login: expected one REGISTRY (see 'kiln help login')");
	/* docker logs in to Docker Hub when no registry is named */
	a->registry = optind < argc ? argv[optind] : "docker.io";
	if (a->password_stdin && a->password)
		return err_usage(err, "login: --password and --password-stdin are exclusive");
	if (a->password_stdin && !a->user)
		return err_usage(err, "login: --password-stdin needs --username");
	return 0;
}

static int gather_secret(struct login_args *a, struct kiln_error **err)
{
	if (a->password_stdin)
		return read_password_stdin(&a->password, err);
	if (!isatty(STDIN_FILENO) && (!a->user || !a->password))
		return err_usage(
			err, "login: no terminal to ask on: give --username and --password-stdin");
	if (!a->user)
		a->user = prompt("Username", true);
	if (!a->password)
		a->password = prompt("Password", false);
	return 0;
}

/*
 * Docker Hub's entry is stored under the key docker writes,
 * "https://index.docker.io/v1/" (kiln, podman and skopeo read it as docker.io),
 * replacing any other spelling of it.
 */
static int store_login(struct login_args *a, const char *domain, struct kiln_error **err)
{
	_cleanup_free_ char *path = a->o.reg.auth_file ? NULL : registry_auth_path();
	const char *file = a->o.reg.auth_file ? a->o.reg.auth_file : path;
	int r;

	if (!streq(domain, "docker.io"))
		return registry_auth_store(file, domain, a->user, a->password, err);
	r = registry_auth_remove(file, domain, err);
	if (r < 0)
		return r;
	return registry_auth_store(file, DOCKER_HUB_AUTH_KEY, a->user, a->password, err);
}

static int do_login(struct login_args *a, struct kiln_error **err)
{
	_cleanup_free_ char *domain = cmd_registry_domain(a->registry);
	struct registry_client *c = NULL;
	int r;

	if (!*a->user)
		return err_usage(err, "login: empty username");
	a->o.reg.username = a->user;
	a->o.reg.password = a->password;
	r = registry_client_new(domain, &a->o.reg, &c, err);
	if (r == 0)
		r = registry_client_ping(c, err);
	registry_client_free(c);
	if (r == 0)
		r = store_login(a, domain, err);
	if (r < 0)
		return err_wrap(err, "login to '%s'", domain);
	printf("Login Succeeded!\n");
	return 0;
}

int cmd_login(int argc, char **argv, struct kiln_error **err)
{
	struct login_args a = {.o.reg = REGISTRY_OPTS_INIT};
	int r = parse_login(argc, argv, &a, err);

	if (r == 0)
		r = gather_secret(&a, err);
	if (r == 0)
		r = do_login(&a, err);
	if (a.password)
		explicit_bzero(a.password, strlen(a.password));
	free(a.password);
	free(a.user);
	cmd_registry_opts_release(&a.o);
	return r < 0 ? r : 0;
}

/* ---- logout ---- */

const struct cmd_option cmd_logout_options[] = {
	{"authfile", 0, required_argument, OPT_AUTHFILE, "FILE",
	 "the credentials file (default: as kiln login's)"},
	{"all", 'a', no_argument, OPT_ALL, NULL, "remove the whole file: every registry"},
	CMD_OPTION_END,
};

int cmd_logout(int argc, char **argv, struct kiln_error **err)
{
	_cleanup_(cmd_getopt_release) struct cmd_getopt g;
	_cleanup_free_ char *domain = NULL, *path = NULL;
	const char *authfile = NULL;
	bool all = false;
	int c, r;

	cmd_getopt_init(&g, cmd_logout_options);
	opterr = 0;
	while ((c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
		if (c == ':')
			return err_usage(err, "logout: option '%s' needs an argument",
					 argv[optind - 1]);
		if (c == OPT_AUTHFILE)
			authfile = optarg;
		else if (c == OPT_ALL || c == 'a')
			all = true;
		else
			return err_usage(err,
					 "logout: unknown option '%s' (see 'kiln help logout')",
					 argv[optind - 1]);
	}
	path = authfile ? xstrdup(authfile) : registry_auth_path();
	if (all) {
		if (optind != argc)
			return err_usage(err, "logout: --all takes no REGISTRY");
		if (unlink(path) < 0 && errno != ENOENT)
			return err_sys(err, errno, "logout: remove '%s'", path);
		printf("Removed login credentials for all registries\n");
		return 0;
	}
	if (argc - optind > 1)
		return err_usage(err, "logout: expected one REGISTRY (see 'kiln help logout')");
	domain = cmd_registry_domain(optind < argc ? argv[optind] : "docker.io");
	r = registry_auth_remove(path, domain, err);
	if (r < 0)
		return err_wrap(err, "logout from '%s'", domain);
	if (r == 0)
		return err_new(err, KILN_ERR_INPUT, ENOENT,
			       "logout: not logged in to '%s' (in '%s')", domain, path);
	printf("Removed login credentials for %s\n", domain);
	return 0;
}
