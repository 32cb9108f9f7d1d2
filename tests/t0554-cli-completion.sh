#!/bin/sh
# kiln completion bash|zsh: made from the command table and the help texts;
# bash really completes with it, every option it offers is one the command's
# parser knows, and the build installs the scripts meson install copies.
. "$(dirname "$0")/lib.sh"
need_cmd bash

kiln completion bash >"$T/kiln.bash"
cat >"$T/comp.bash" <<'SH'
. "$1"
shift
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
_kiln
printf '%s\n' "${COMPREPLY[@]}"
SH
comp() { bash "$T/comp.bash" "$T/kiln.bash" kiln "$@" | tr '\n' ' '; }

say "bash completes commands and options"
expect_eq "$(comp bu)" "build " "kiln bu"
expect_eq "$(comp --log-level warn ima)" "images image " "after a global option"
expect_eq "$(comp build --ii)" "--iidfile " "kiln build --ii"
expect_eq "$(comp images --fi)" "--filter " "kiln images --fi"
expect_eq "$(comp login --user)" "--username " "kiln login --user"
expect_eq "$(comp --ver)" "--version " "kiln --ver"
all=$(kiln help | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 {print $1}' | tr '\n' ' ')
expect_eq "$(comp '')" "$all" "every command of kiln help"

say "every option offered is one the command accepts"
export KILN_ROOT=$T/store REGISTRY_AUTH_FILE=$T/auth.json HOME=$T/home
mkdir -p "$T/empty"
for c in $all; do
	for o in $(comp "$c" -); do
		[ "$o" != --help ] || continue
		# in an empty directory with an empty store: each fails or does nothing, fast
		(cd "$T/empty" && timeout 20 "$KILN" "$c" "$o" </dev/null >/dev/null 2>"$T/err") || true
		grep -q "unknown option" "$T/err" && fail "kiln $c offers '$o', which it refuses: $(cat "$T/err")"
	done
done
true

say "zsh's script, and the files meson install copies"
kiln completion zsh >"$T/_kiln"
expect_eq "$(head -n1 "$T/_kiln")" "#compdef kiln" "zsh script header"
grep -q "^build) opts=(.*--iidfile" "$T/_kiln" || fail "zsh: build options"
if command -v zsh >/dev/null; then zsh -n "$T/_kiln" || fail "zsh syntax"; fi
bash -n "$T/kiln.bash" || fail "bash syntax"
cmp "$KILN_BUILD/doc/kiln" "$T/kiln.bash" || fail "the built bash completion is not 'kiln completion bash'"
cmp "$KILN_BUILD/doc/_kiln" "$T/_kiln" || fail "the built zsh completion is not 'kiln completion zsh'"
expect_fail 2 "completion: expected bash or zsh" kiln completion fish
