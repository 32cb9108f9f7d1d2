#!/bin/sh
# The option tables (cmd/cmd-options.h) are the one source of truth: every
# option `kiln completion options` lists (from each command's table, or its
# help text where it has none yet) is in that command's paragraphs of the man
# page, in the bash and zsh scripts, and in `kiln help COMMAND`; kiln build's
# Options section is made from its table, one entry per option.
. "$(dirname "$0")/lib.sh"

man=$KILN_SRC/doc/kiln.1.md
kiln completion options >"$T/options"
kiln completion bash >"$T/kiln.bash"
kiln completion zsh >"$T/_kiln"

# missing MAN: the "COMMAND OPTION" lines of $T/options that MAN does not list in a
# paragraph of its own (one starting **kiln COMMAND) as **OPTION**, **OPTION=... or **OPTION**|
missing() {
	while read -r c o; do
		[ "$o" != --help ] || continue
		awk -v c="$c" '
			index($0, "**kiln " c "**") == 1 || index($0, "**kiln " c " ") == 1 {on = 1; print; next}
			/^\*\*kiln / || /^# / {on = 0}
			on' "$1" | grep -qE -- "\*\*$o(\*\*|=|\|)" || echo "$c $o"
	done <"$T/options"
}

say "the list is the tables'"
n=$(grep -c '^build ' "$T/options")
[ "$n" -ge 40 ] || fail "kiln build lists only $n options: $(grep '^build ' "$T/options" | tr '\n' ' ')"
for o in --tag -t --add-host --shm-size --ulimit --iidfile --output -o --cache-to --creds --help; do
	grep -qx "build $o" "$T/options" || fail "build $o is not listed"
done
expect_eq "$(sort "$T/options" | uniq -d)" "" "an option listed twice"

say "the man page lists every option in its command's paragraph"
missing "$man" >"$T/missing"
[ ! -s "$T/missing" ] || fail "doc/kiln.1.md lacks: $(tr '\n' ',' <"$T/missing")"
# the check itself: an option taken out of the page is found missing
sed 's/\*\*--ulimit\*\*/ulimit/g; s/\*\*-q\*\*|\*\*--quiet\*\*/quiet/' "$man" >"$T/man-less.md"
expect_eq "$(missing "$T/man-less.md" | grep '^build' | tr '\n' ',')" "build --ulimit,build --quiet,build -q," \
	"the check finds options taken out of the man page"

say "bash and zsh offer every option, kiln help shows it"
while read -r c o; do
	grep -E "^	$c\) opts='" "$T/kiln.bash" | grep -qE -- "[' ]$o[' ]" || fail "bash: kiln $c $o"
	grep -E "^$c\) opts=\(" "$T/_kiln" | grep -qF -- "'$o:" || grep -E "^$c\) opts=\(" "$T/_kiln" | grep -qE -- "[( ]$o[ )]" ||
		fail "zsh: kiln $c $o"
	[ "$o" = --help ] || kiln help "$c" | grep -qE -- "(^|[ ,([|])$o([] ,=)[|]|$)" || fail "kiln help $c lacks $o"
done <"$T/options"

say "kiln help build: one Options entry per table entry, help at column 29"
kiln help build | sed -n '/^Options:$/,$p' | grep '^  -' >"$T/entries"
expect_eq "$(grep -c . "$T/entries")" "$(grep '^build --' "$T/options" | grep -vc -- '--help')" "entries"
expect_contains "$(cat "$T/entries")" "  -t, --tag NAME[:TAG]       name the image"
expect_contains "$(cat "$T/entries")" "  --pull[=missing|always|never]  pull FROM"
expect_contains "$(kiln help build)" "$(printf '  --ulimit NAME=SOFT[:HARD]  a resource limit for RUN (nofile, nproc, core, ...;\n                             repeatable; HARD at most kiln'"'"'s own)')"
for c in $(cut -d" " -f1 "$T/options" | uniq); do
	kiln help "$c" | sed -n '/^Options:$/,$p' | awk 'length > 80' | grep . &&
		fail "kiln help $c: an Options line over 80 columns"
done

say "zsh describes each option with the first line of its help"
grep -qF "'--iidfile:write the image ID (sha256:..., no newline) to FILE'" "$T/_kiln" || fail "zsh: --iidfile's description"
grep -qF "'--tag:name the image (repeatable; '\\'':latest'\\'' when no tag)'" "$T/_kiln" || fail "zsh: quotes in a description"

if command -v zsh >/dev/null; then
	say "zsh runs the script: each command offers its options, described"
	zsh -n "$T/_kiln" || fail "zsh syntax"
	cat >"$T/z.zsh" <<'ZSH'
_describe() { print -rl -- "${(@P)${@[-1]}}"; }
_files() { print FILES; }
words=(kiln "$1" -); CURRENT=3; PREFIX=-
source "$2"
ZSH
	for c in build images login; do
		zsh -f "$T/z.zsh" "$c" "$T/_kiln" | cut -d: -f1 >"$T/z.$c"
		grep "^$c " "$T/options" | cut -d' ' -f2 | diff -u - "$T/z.$c" || fail "zsh: kiln $c offers another list"
	done
	zsh -f "$T/z.zsh" build "$T/_kiln" | grep -qxF -- "--ulimit:a resource limit for RUN (nofile, nproc, core, ...;" ||
		fail "zsh: --ulimit's description"
fi
true
