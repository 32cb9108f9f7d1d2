/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Word expansion on arbitrary text. The first byte picks the escape
 * character; the rest is the word, expanded whole, as a heredoc body, and
 * split into words.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "parser/parser.h"
#include "util/xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strv env = STRV_INIT, words = STRV_INIT;
	struct kiln_error *err = NULL;
	char escape, *text, *w = NULL;

	if (size == 0)
		return 0;
	escape = data[0] & 1 ? '`' : '\\';
	text = xstrndup((const char *)data + 1, size - 1);
	strv_env_set(&env, "PWD", "/home");
	strv_env_set(&env, "SPACE", "a  b ");
	strv_env_set(&env, "NULL", "");
	strv_env_set(&env, "PATH", "/usr/local/bin:/usr/bin:/bin");
	if (shell_expand_word(text, &env, escape, &w, &err) == 0)
		free(w);
	err_free(err);
	err = NULL;
	w = NULL;
	if (shell_expand_heredoc(text, &env, escape, &w, &err) == 0)
		free(w);
	err_free(err);
	err = NULL;
	shell_expand_words(text, &env, escape, &words, &err);
	err_free(err);
	strv_clear(&words);
	strv_clear(&env);
	free(text);
	return 0;
}
