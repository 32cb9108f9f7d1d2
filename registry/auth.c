/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry auth: the WWW-Authenticate challenge (RFC 7235 auth-params),
 * basic credentials, and bearer tokens from the token server the challenge
 * names (the distribution "token authentication" spec), cached per scope.
 * Secrets are kept out of every log line and error message.
 */
#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "registry/registry-internal.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xmalloc.h"

#include "util/banned.h"

#define TOKEN_DEFAULT_TTL 60
#define TOKEN_MIN_TTL	  10

char *reg_base64(const void *data, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

char *reg_base64_decode(const char *s, size_t *ret_len)
{
	size_t n = strlen(s), pad = 0;
	unsigned char *out;
	int got;

	if (n % 4 != 0)
		return NULL;
	out = xmalloc(n / 4 * 3 + 1);
	got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (got < 0) {
		free(out);
		return NULL;
	}
	while (pad < 2 && n > pad && s[n - 1 - pad] == '=')
		pad++;
	got -= (int)pad;
	out[got] = '\0';
	*ret_len = (size_t)got;
	return (char *)out;
}

/* ---- challenge parsing ---- */

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	return p;
}

/* One auth-param: name=token or name="quoted \"string\"". Returns the end or NULL. */
static const char *parse_param(const char *p, char **ret_name, char **ret_value)
{
	const char *n0 = p;
	struct strbuf v = STRBUF_INIT;

	while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '-'))
		p++;
	if (p == n0 || *p != '=')
		return NULL;
	*ret_name = xstrndup(n0, (size_t)(p - n0));
	p++;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			strbuf_addch(&v, *p);
		}
		if (*p != '"') {
			free(*ret_name);
			strbuf_release(&v);
			return NULL;
		}
		p++;
	} else {
		while (*p && *p != ',' && *p != ' ')
			strbuf_addch(&v, *p++);
	}
	*ret_value = strbuf_detach(&v, NULL);
	return p;
}

static void set_param(struct reg_challenge *ch, const char *name, char *value)
{
	static const struct {
		const char *name;
		size_t off;
	} params[] = {
		{"realm", offsetof(struct reg_challenge, realm)},
		{"service", offsetof(struct reg_challenge, service)},
		{"scope", offsetof(struct reg_challenge, scope)},
		{"error", offsetof(struct reg_challenge, error)},
	};

	for (size_t i = 0; i < ARRAY_SIZE(params); i++) {
		char **slot = (char **)((char *)ch + params[i].off);

		if (strcasecmp(name, params[i].name) == 0) {
			free(*slot);
			*slot = value;
			return;
		}
	}
	free(value);
}

int reg_challenge_parse(const char *value, struct reg_challenge *ret)
{
	struct reg_challenge ch = {.scheme = REG_AUTH_UNKNOWN};
	const char *p = skip_ws(value), *s0 = p;

	while (*p && *p != ' ')
		p++;
	if ((size_t)(p - s0) == 6 && strncasecmp(s0, "Bearer", 6) == 0)
		ch.scheme = REG_AUTH_BEARER;
	else if ((size_t)(p - s0) == 5 && strncasecmp(s0, "Basic", 5) == 0)
		ch.scheme = REG_AUTH_BASIC;
	for (p = skip_ws(p); *p; p = skip_ws(p)) {
		char *name = NULL, *v = NULL;

		p = parse_param(p, &name, &v);
		if (!p) {
			reg_challenge_release(&ch);
			return -EINVAL;
		}
		set_param(&ch, name, v);
		free(name);
	}
	if (ch.scheme == REG_AUTH_BEARER && !ch.realm) {
		reg_challenge_release(&ch);
		return -EINVAL;
	}
	*ret = ch;
	return 0;
}

void reg_challenge_release(struct reg_challenge *ch)
{
	free(ch->realm);
	free(ch->service);
	free(ch->scope);
	free(ch->error);
	*ch = (struct reg_challenge){0};
}

/* ---- the token cache (callers hold c->lock) ---- */

static struct reg_token *token_find(struct registry_client *c, const char *scope)
{
	const char *key = scope ? scope : "";

	for (size_t i = 0; i < c->n_tokens; i++)
		if (streq(c->tokens[i].scope, key))
			return &c->tokens[i];
	return NULL;
}

static void token_put(struct registry_client *c, const char *scope, char *token, time_t expires)
{
	struct reg_token *t = token_find(c, scope);

	if (!t) {
		ALLOC_GROW(c->tokens, c->n_tokens + 1, c->alloc_tokens);
		t = &c->tokens[c->n_tokens++];
		t->scope = xstrdup(scope ? scope : "");
	} else {
		explicit_bzero(t->token, strlen(t->token));
		free(t->token);
	}
	t->token = token;
	t->expires = expires;
}

void reg_auth_forget(struct registry_client *c, const char *scope)
{
	struct reg_token *t;

	pthread_mutex_lock(&c->lock);
	t = token_find(c, scope);
	if (t)
		t->expires = 0;
	pthread_mutex_unlock(&c->lock);
}

void reg_auth_clear(struct registry_client *c)
{
	for (size_t i = 0; i < c->n_tokens; i++) {
		free(c->tokens[i].scope);
		explicit_bzero(c->tokens[i].token, strlen(c->tokens[i].token));
		free(c->tokens[i].token);
	}
	free(c->tokens);
	c->tokens = NULL;
	c->n_tokens = c->alloc_tokens = 0;
	free(c->realm);
	free(c->service);
	c->realm = c->service = NULL;
}

static char *basic_header(struct registry_client *c)
{
	_cleanup_free_ char *pair = xasprintf("%s:%s", c->user, c->secret);
	char *b64 = reg_base64(pair, strlen(pair)), *h = xasprintf("Basic %s", b64);

	explicit_bzero(pair, strlen(pair));
	explicit_bzero(b64, strlen(b64));
	free(b64);
	return h;
}

static bool have_basic_creds(const struct registry_client *c)
{
	return c->user && c->secret && !streq(c->user, "<token>");
}

char *reg_auth_header(struct registry_client *c, const char *scope)
{
	char *h = NULL;
	struct reg_token *t;

	pthread_mutex_lock(&c->lock);
	if (c->scheme == REG_AUTH_BASIC && have_basic_creds(c))
		h = basic_header(c);
	else if (c->scheme == REG_AUTH_BEARER && (t = token_find(c, scope)) &&
		 t->expires > time(NULL))
		h = xasprintf("Bearer %s", t->token);
	pthread_mutex_unlock(&c->lock);
	return h;
}

/* ---- fetching a token ---- */

static char *token_url(struct registry_client *c, const char *scope)
{
	struct strbuf u = STRBUF_INIT;
	char sep = strchr(c->realm, '?') ? '&' : '?';
	CURL *h = curl_easy_init();

	strbuf_addstr(&u, c->realm);
	if (c->service) {
		char *e = curl_easy_escape(h, c->service, 0);

		strbuf_addf(&u, "%cservice=%s", sep, e);
		curl_free(e);
		sep = '&';
	}
	for (const char *p = scope; p && *p;) {
		size_t n = strcspn(p, " ");
		_cleanup_free_ char *one = xstrndup(p, n);
		char *e = curl_easy_escape(h, one, 0);

		strbuf_addf(&u, "%cscope=%s", sep, e);
		curl_free(e);
		sep = '&';
		p += n;
		while (*p == ' ')
			p++;
	}
	curl_easy_cleanup(h);
	return strbuf_detach(&u, NULL);
}

static int parse_token(struct registry_client *c, const struct strbuf *body, char **ret_token,
		       time_t *ret_expires, struct kiln_error **err)
{
	_cleanup_(json_decrefp) json_t *j = json_loadb(body->buf, body->len, 0, NULL);
	const char *tok;
	json_int_t ttl;

	tok = json_string_value(json_object_get(j, "token"));
	if (!tok || !*tok)
		tok = json_string_value(json_object_get(j, "access_token"));
	if (!tok || !*tok)
		return err_new(err, KILN_ERR_SYSTEM, EPROTO,
			       "registry '%s': token server '%s' sent no token", c->domain,
			       c->realm);
	ttl = json_integer_value(json_object_get(j, "expires_in"));
	if (ttl < TOKEN_MIN_TTL)
		ttl = TOKEN_DEFAULT_TTL;
	*ret_token = xstrdup(tok);
	*ret_expires = time(NULL) + (time_t)ttl - 5;
	return 0;
}

/* The OAuth2 form for an identity token ("refresh_token" grant), malloc'd. */
static char *refresh_form(struct registry_client *c, const char *scope)
{
	struct strbuf sb = STRBUF_INIT;
	CURL *h = curl_easy_init();
	char *tok = curl_easy_escape(h, c->secret, 0);
	char *svc = curl_easy_escape(h, c->service ? c->service : "", 0);
	char *scp = curl_easy_escape(h, scope ? scope : "", 0);

	strbuf_addf(&sb, "grant_type=refresh_token&client_id=kiln&service=%s&refresh_token=%s", svc,
		    tok);
	if (scope)
		strbuf_addf(&sb, "&scope=%s", scp);
	explicit_bzero(tok, strlen(tok));
	curl_free(tok);
	curl_free(svc);
	curl_free(scp);
	curl_easy_cleanup(h);
	return strbuf_detach(&sb, NULL);
}

struct token_req {
	char *url, *auth, *form;
};

/* GET realm?service&scope with basic credentials, or POST the refresh-token form. */
static void token_req_init(struct registry_client *c, const char *scope, struct token_req *t,
			   struct http_req *rq)
{
	pthread_mutex_lock(&c->lock);
	if (c->user && streq(c->user, "<token>") && c->secret) {
		t->url = xstrdup(c->realm);
		t->form = refresh_form(c, scope);
		rq->method = "POST";
		rq->content_type = "application/x-www-form-urlencoded";
		rq->body = t->form;
		rq->body_len = rq->body_size = strlen(t->form);
		rq->has_body = true;
	} else {
		t->url = token_url(c, scope);
		if (have_basic_creds(c))
			t->auth = basic_header(c);
		rq->method = "GET";
	}
	pthread_mutex_unlock(&c->lock);
	rq->url = t->url;
	rq->authorization = t->auth;
	rq->follow = true;
}

static void token_req_release(struct token_req *t)
{
	if (t->auth)
		explicit_bzero(t->auth, strlen(t->auth));
	if (t->form)
		explicit_bzero(t->form, strlen(t->form));
	free(t->url);
	free(t->auth);
	free(t->form);
}

static int token_refused(struct registry_client *c, const struct token_req *t, long status,
			 struct kiln_error **err)
{
	if (t->form)
		return err_new(
			err, KILN_ERR_SYSTEM, EACCES,
			"registry '%s': authentication failed: the identity token was refused (token server: HTTP %ld)",
			c->domain, status);
	if (t->auth)
		return err_new(
			err, KILN_ERR_SYSTEM, EACCES,
			"registry '%s': authentication failed for user '%s' (token server: HTTP %ld)",
			c->domain, c->user, status);
	return err_new(
		err, KILN_ERR_SYSTEM, EACCES,
		"registry '%s': authentication required (no credentials; use 'kiln login %s')",
		c->domain, c->domain);
}

static int fetch_token(struct registry_client *c, const char *repo, const char *scope,
		       struct kiln_error **err)
{
	_cleanup_free_ char *token = NULL;
	struct http_resp rs = {.body = STRBUF_INIT};
	struct http_req rq = {.body_fd = -1};
	struct token_req t = {0};
	time_t expires = 0;
	int r;

	token_req_init(c, scope, &t, &rq);
	r = http_perform(c, &rq, &rs);
	if (r < 0)
		r = err_new(err, KILN_ERR_SYSTEM, EHOSTUNREACH,
			    "registry '%s': token server '%s': %s", c->domain, c->realm,
			    rs.curl_msg);
	else if (rs.status == 401 || rs.status == 403)
		r = token_refused(c, &t, rs.status, err);
	else if (rs.status != 200)
		r = err_new(err, KILN_ERR_SYSTEM, EPROTO,
			    "registry '%s': token server '%s': HTTP %ld", c->domain, c->realm,
			    rs.status);
	else if ((r = parse_token(c, &rs.body, &token, &expires, err)) == 0) {
		pthread_mutex_lock(&c->lock);
		token_put(c, scope, TAKE_PTR(token), expires);
		pthread_mutex_unlock(&c->lock);
	}
	token_req_release(&t);
	http_resp_release(&rs);
	(void)repo;
	return r;
}

int reg_auth_learn(struct registry_client *c, const struct http_resp *rs, struct kiln_error **err)
{
	struct reg_challenge ch = {0};

	if (!rs->www_auth || reg_challenge_parse(rs->www_auth, &ch) < 0 ||
	    ch.scheme == REG_AUTH_UNKNOWN) {
		reg_challenge_release(&ch);
		return err_new(
			err, KILN_ERR_SYSTEM, EPROTO,
			"registry '%s': HTTP 401 without a usable WWW-Authenticate challenge",
			c->domain);
	}
	pthread_mutex_lock(&c->lock);
	c->scheme = ch.scheme;
	if (ch.scheme == REG_AUTH_BEARER) {
		free(c->realm);
		free(c->service);
		c->realm = TAKE_PTR(ch.realm);
		c->service = TAKE_PTR(ch.service);
	}
	pthread_mutex_unlock(&c->lock);
	reg_challenge_release(&ch);
	return 0;
}

int reg_auth_handle_401(struct registry_client *c, const char *repo, const char *scope,
			const struct http_resp *rs, struct kiln_error **err)
{
	int r = reg_auth_learn(c, rs, err);

	if (r < 0)
		return r;
	if (c->scheme == REG_AUTH_BASIC) {
		if (!have_basic_creds(c))
			return err_new(
				err, KILN_ERR_SYSTEM, EACCES,
				"registry '%s': authentication required (no credentials; use 'kiln login %s')",
				c->domain, c->domain);
		return 0;
	}
	return fetch_token(c, repo, scope, err);
}

int reg_auth_prepare(struct registry_client *c, const char *repo, const char *scope,
		     struct kiln_error **err)
{
	struct reg_token *t;
	bool have;

	pthread_mutex_lock(&c->lock);
	t = c->scheme == REG_AUTH_BEARER ? token_find(c, scope) : NULL;
	have = c->scheme != REG_AUTH_BEARER || (t && t->expires > time(NULL));
	pthread_mutex_unlock(&c->lock);
	return have ? 0 : fetch_token(c, repo, scope, err);
}
