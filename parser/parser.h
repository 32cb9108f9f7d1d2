/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The Dockerfile language: bytes in, AST out (DESIGN.md, parser/). Nothing
 * here touches files or processes. Three parts:
 *
 *  - parser_parse(): Dockerfile text -> struct dockerfile, following BuildKit's
 *    parser (directives, continuations, heredocs, JSON/shell forms, flags) and
 *    its instruction checks (flag names and values, argument counts);
 *  - shell_expand_word()/shell_expand_words(): BuildKit's shell lexer, which
 *    the builder runs with the environment in force;
 *  - struct dockerignore: .dockerignore patterns and matching.
 *
 * Strings in the AST are NUL-terminated and owned by the AST; everything is
 * freed by dockerfile_free(). Locations count lines and columns from 1.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"
#include "util/strbuf.h"
#include "util/strv.h"

enum instr_kind {
	INSTR_UNKNOWN,
	INSTR_ADD,
	INSTR_ARG,
	INSTR_CMD,
	INSTR_COPY,
	INSTR_ENTRYPOINT,
	INSTR_ENV,
	INSTR_EXPOSE,
	INSTR_FROM,
	INSTR_HEALTHCHECK,
	INSTR_LABEL,
	INSTR_MAINTAINER,
	INSTR_ONBUILD,
	INSTR_RUN,
	INSTR_SHELL,
	INSTR_STOPSIGNAL,
	INSTR_USER,
	INSTR_VOLUME,
	INSTR_WORKDIR,
	INSTR_KIND_MAX_,
};

/* "--name=value" before the arguments; a flag may repeat (--mount, --exclude). */
struct instr_flag {
	char *name; /* without the leading "--" */
	char *value; /* quotes removed; "" when has_value is false */
	bool has_value; /* "=" was written */
};

/* ENV and LABEL pairs; for ARG, each NAME[=default]. */
struct instr_kv {
	char *key;
	char *value; /* as written: quotes and escapes kept, expand with shell_expand_word() */
	bool has_value; /* false only for an ARG without a default (value is then "") */
	bool legacy; /* ENV/LABEL in the legacy "KEY value" form (value: the rest of the line) */
};

/*
 * A here-document (RUN/COPY/ADD <<EOF). For RUN, args[0] is the command line
 * that names them ("<<EOF" alone: the body is the script; "<<EOF sh -x" or
 * "cat <<EOF >/x": the command reads the body); for COPY/ADD, the "<<NAME"
 * words in args stand for files holding the bodies.
 */
struct heredoc {
	char *name; /* the delimiter, quotes removed */
	char *body; /* the lines between, each ending in '\n'; tabs stripped for <<- */
	int fd; /* the digits before "<<" ("3<<EOF"), or -1 */
	bool expand; /* false when the delimiter was quoted: the body is literal */
	bool chomp; /* <<- : leading tabs were stripped */
};

struct instruction {
	enum instr_kind kind;
	char *keyword; /* as written ("Run") */
	struct srcloc loc; /* first line and column of the keyword; loc.file is the dockerfile's */
	unsigned end_line; /* last line of the instruction (heredoc bodies included) */
	struct instr_flag *flags;
	size_t n_flags;
	/*
	 * Arguments, unexpanded, split as BuildKit's parser does:
	 * RUN/CMD/ENTRYPOINT/SHELL: the JSON elements, or one string (shell form);
	 * ADD/COPY/VOLUME: JSON elements or whitespace-separated words (sources..., dest);
	 * FROM: image [AS name]; EXPOSE/ARG: words; HEALTHCHECK: type, then the command
	 * (JSON elements or one string); USER/WORKDIR/STOPSIGNAL/MAINTAINER: one string;
	 * ENV/LABEL: see kvs (args holds key, value, separator triples as BuildKit dumps);
	 * ONBUILD: empty (see onbuild).
	 */
	struct strv args;
	size_t *arg_lens; /* byte length of each args entry: JSON may embed NUL ("\u0000") */
	bool json; /* the exec (JSON array) form was used */
	char *rest; /* the logical line after the keyword, continuations joined, trimmed */
	struct heredoc *heredocs;
	size_t n_heredocs;
	struct instr_kv *kvs;
	size_t n_kvs;
	struct instruction *onbuild; /* ONBUILD's trigger, or NULL */
};

/* One build stage: instructions [first, first + n) of the dockerfile, first being FROM. */
struct stage {
	size_t first;
	size_t n;
	const char *base; /* FROM's image argument, unexpanded (points into the AST) */
	char *name; /* the name after AS, lower-cased, or NULL */
};

enum diag_severity {
	DIAG_WARNING,
	DIAG_ERROR,
};

/* A warning (or, with PARSER_KEEP_GOING, an error) found while parsing. */
struct parser_diag {
	enum diag_severity severity;
	struct srcloc loc; /* loc.file is the dockerfile's */
	char *rule; /* BuildKit's check name for warnings ("JSONArgsRecommended"), or NULL */
	char *msg;
	char *excerpt; /* the source line, or NULL */
};

struct dockerfile {
	char *filename;
	char escape; /* '\\' or '`' */
	char *syntax; /* "# syntax=" value or NULL (accepted and ignored) */
	char *check; /* "# check=" value or NULL */
	struct instruction *instrs;
	size_t n_instrs;
	size_t n_meta_args; /* ARG instructions before the first FROM */
	struct stage *stages;
	size_t n_stages;
	struct parser_diag *diags;
	size_t n_diags;
	size_t n_errors; /* diags with DIAG_ERROR (only with PARSER_KEEP_GOING) */
};

enum parser_flags {
	/* Only the syntax layer (BuildKit's parser package): no instruction checks. */
	PARSER_SYNTAX_ONLY = 1 << 0,
	/*
	 * Record instruction errors in diags (DIAG_ERROR) and keep going, for
	 * `kiln check`; syntax errors still fail the parse.
	 */
	PARSER_KEEP_GOING = 1 << 1,
};

/*
 * Parse @len bytes of @buf (need not be NUL-terminated). @filename is used in
 * locations and messages. On success *ret owns a new AST (free it with
 * dockerfile_free()); on failure returns < 0 with *err an input error at the
 * offending line and column, with the line as excerpt (render it with
 * err_format()). The AST holds no pointer into @buf. parser_parse() is
 * parser_parse_flags() with 0: syntax and instruction checks, stop at the
 * first error. Warnings never fail a parse; they are in df->diags.
 */
int parser_parse(const char *buf, size_t len, const char *filename, struct dockerfile **ret,
		 struct kiln_error **err);
int parser_parse_flags(const char *buf, size_t len, const char *filename, unsigned flags,
		       struct dockerfile **ret, struct kiln_error **err);
void dockerfile_free(struct dockerfile *df);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct dockerfile *, dockerfile_free)

/* "RUN" -> INSTR_RUN (case-insensitive); INSTR_UNKNOWN otherwise. */
enum instr_kind instr_kind_from_name(const char *name);
/* INSTR_RUN -> "RUN". */
const char *instr_kind_name(enum instr_kind kind);
/*
 * Whether the builder expands variables in the instruction's arguments with
 * the environment in force (ADD, ARG, COPY, ENV, EXPOSE, FROM, LABEL,
 * STOPSIGNAL, USER, VOLUME, WORKDIR; not RUN, CMD, ENTRYPOINT, SHELL,
 * HEALTHCHECK, MAINTAINER, ONBUILD).
 */
bool instr_expands(enum instr_kind kind);
/* Whether the value of flag @name of @kind is expanded (COPY --chown yes, --from no). */
bool instr_flag_expands(enum instr_kind kind, const char *name);
/* The value of the last flag @name, or NULL when absent. */
const char *instr_flag_get(const struct instruction *in, const char *name);
/* For a stage-opening FROM: the name after AS (as written), or NULL. */
const char *instr_from_stage_name(const struct instruction *in);

/*
 * RUN --mount=KEY=VALUE,...: the one grammar `kiln check` and `kiln build`
 * share (parser/mount.c), BuildKit's keys plus buildah's extensions (which
 * parse, so buildah's Dockerfiles check, but kiln build refuses).
 */
enum mount_type {
	MOUNT_BIND,
	MOUNT_CACHE,
	MOUNT_TMPFS,
	MOUNT_SECRET,
	MOUNT_SSH,
};

struct mount_spec {
	enum mount_type type;
	char *target; /* BuildKit's default for secret (/run/secrets/ID) and ssh */
	char *source;
	char *from;
	char *id; /* defaults: a cache's target, a secret's target basename, ssh "default" */
	char *env; /* secret: expose as this variable instead of a file */
	char *sharing; /* cache: shared, private or locked; NULL: shared */
	mode_t mode; /* 0755 unless mode= */
	bool mode_set; /* mode= was given */
	uid_t uid;
	gid_t gid;
	bool rw;
	bool required;
	uint64_t size; /* tmpfs size= in bytes, 0: default */
	char *buildah_key; /* the first of buildah's extensions used (tmpcopyup, z, ...), or NULL */
};

enum mount_spec_flags {
	/*
	 * The value as written, before expansion (kiln check): a value holding
	 * '$' is judged after expansion, and a missing target is the build's
	 * error (BuildKit's parser takes --mount=from=binaries).
	 */
	MOUNT_SPEC_UNEXPANDED = 1 << 0,
};

/*
 * Parse one --mount value into *ret (release it with mount_spec_release()).
 * Errors are KILN_ERR_INPUT without a location, "--mount: unexpected key 'x'";
 * callers add the instruction's.
 */
int mount_spec_parse(const char *spec, unsigned flags, struct mount_spec *ret,
		     struct kiln_error **err);
void mount_spec_release(struct mount_spec *m);
/* MOUNT_CACHE -> "cache". */
const char *mount_type_name(enum mount_type t);

/* Render the AST as BuildKit's parser tests dump it (the `result` files). */
void dockerfile_dump_buildkit(const struct dockerfile *df, struct strbuf *out);
/* Render the AST as JSON (the documented form of `kiln parse --format=json`). */
void dockerfile_dump_json(const struct dockerfile *df, struct strbuf *out);

/*
 * BuildKit's shell lexer. @env is a KEY=VALUE list (later entries do not
 * override earlier ones: keys are unique, see strv_env_set). @escape is '\\'
 * or '`'. Errors (unterminated quotes, bad substitutions, ${X?msg}, a word
 * growing past 4 MiB) are KILN_ERR_INPUT without a location; callers wrap
 * them with the instruction. ${X/pat/r} with an empty pat leaves X as it is.
 */
/* Process one word: quotes removed, variables expanded, no splitting. */
int shell_expand_word(const char *word, const struct strv *env, char escape, char **ret,
		      struct kiln_error **err);
/* COPY --from: an error unless the lexer leaves @word as it is with no
 * variables set (BuildKit allows no expansion, quotes or escapes there). */
int shell_check_literal_from(const char *word, char escape, struct kiln_error **err);
/* As shell_expand_word(), but an escape outside quotes stays with the character it
 * escapes ("n\?pe" stays "n\?pe"): for COPY and ADD sources, whose wildcard
 * matching then sees the escape (BuildKit). */
int shell_expand_word_raw(const char *word, const struct strv *env, char escape, char **ret,
			  struct kiln_error **err);
/*
 * Expand a heredoc body for COPY/ADD (when heredoc.expand), as BuildKit's
 * ExpandRaw does (its lexer with SkipProcessQuotes): variables are replaced
 * and escapes processed, but quotes are ordinary characters and stay as
 * written ('$A' expands too).
 */
int shell_expand_heredoc(const char *text, const struct strv *env, char escape, char **ret,
			 struct kiln_error **err);
/* Process and split into words, as for unquoted shell words. Appends to @ret. */
int shell_expand_words(const char *text, const struct strv *env, char escape, struct strv *ret,
		       struct kiln_error **err);

/*
 * .dockerignore: Docker's pattern rules (moby/patternmatcher): comments and
 * blank lines skipped, patterns cleaned (leading "/" and "./" dropped), "**"
 * any number of directories, "*", "?", "[...]", "\" escapes, "!" exceptions,
 * the last matching pattern wins, and a path is excluded when it or one of
 * its parent directories matches.
 */
struct dockerignore;

/* Parse a .dockerignore file's contents; @filename is for messages. */
int dockerignore_parse(const char *buf, size_t len, const char *filename, struct dockerignore **ret,
		       struct kiln_error **err);
void dockerignore_free(struct dockerignore *di);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct dockerignore *, dockerignore_free)
size_t dockerignore_n_patterns(const struct dockerignore *di);
/* @path is relative to the context root, '/'-separated ("a/b/c"). */
bool dockerignore_excluded(const struct dockerignore *di, const char *path, bool is_dir);
/*
 * For an excluded directory @dir: whether an exception ("!pattern") could
 * re-include something below it, so a walker must still descend into it.
 */
bool dockerignore_may_reinclude_under(const struct dockerignore *di, const char *dir);
/*
 * The ignore file to use for a Dockerfile named @dockerfile (relative to the
 * context or absolute): "<dockerfile>.dockerignore" is tried first, then
 * ".dockerignore" at the context root. Returns the first candidate, newly
 * allocated ("Dockerfile.dockerignore" for "Dockerfile").
 */
char *dockerignore_name_for(const char *dockerfile);
