/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The whole parser on arbitrary bytes, in its three modes, then both dumps
 * and the expansion of every argument that the builder would expand.
 */
#include <stdlib.h>

#include "fuzz/fuzz.h"
#include "parser/parser.h"

static void expand_args(const struct dockerfile *df)
{
	struct strv env = STRV_INIT;

	strv_env_set(&env, "A", "a b");
	strv_env_set(&env, "EMPTY", "");
	for (size_t i = 0; i < df->n_instrs; i++) {
		const struct instruction *in = &df->instrs[i];

		if (!instr_expands(in->kind))
			continue;
		strv_foreach(&in->args, a) {
			struct kiln_error *err = NULL;
			struct strv words = STRV_INIT;
			char *w = NULL;

			if (shell_expand_word(*a, &env, df->escape, &w, &err) == 0)
				free(w);
			err_free(err);
			err = NULL;
			shell_expand_words(*a, &env, df->escape, &words, &err);
			err_free(err);
			strv_clear(&words);
		}
	}
	strv_clear(&env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned modes[] = {0, PARSER_SYNTAX_ONLY, PARSER_KEEP_GOING};

	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct dockerfile *df = NULL;
		struct kiln_error *err = NULL;
		struct strbuf out = STRBUF_INIT;

		if (parser_parse_flags((const char *)data, size, "Dockerfile", modes[m], &df,
				       &err) < 0) {
			char *s = err_format(err);

			free(s);
			err_free(err);
			continue;
		}
		dockerfile_dump_buildkit(df, &out);
		dockerfile_dump_json(df, &out);
		if (m == 0)
			expand_args(df);
		strbuf_release(&out);
		dockerfile_free(df);
	}
	return 0;
}
