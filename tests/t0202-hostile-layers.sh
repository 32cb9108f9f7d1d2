#!/bin/sh
# Hostile layers and archives never touch anything outside the target, as root and rootless.
. "$(dirname "$0")/lib.sh"
need_cmd python3 tar

tool=$KILN_BUILD/layers/tests/layer-tool
[ -x "$tool" ] || fail "layer-tool not built"

# mk NAME SPEC: write $T/NAME.tar from a python list of (type, name, data)
mk() {
	python3 -c '
import io, sys, tarfile
spec = eval(sys.argv[2])
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for kind, name, data in spec:
        i = tarfile.TarInfo(name)
        if kind == "f":
            i.size = len(data)
            t.addfile(i, io.BytesIO(data.encode()))
            continue
        i.type = {"d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE}[kind]
        i.mode = 0o755
        i.linkname = data or ""
        t.addfile(i)
' "$T/$1.tar" "$2"
}

O=$T/outside
mkdir -p "$O"
echo keep >"$O/secret"
chmod -R a+rwX "$T"

# check NAME EXPECT-STATUS MESSAGE: apply as root and as builder; the outside is untouched
check() {
	for who in root builder; do
		rm -rf "$T/root-$who"
		mkdir "$T/root-$who"
		chmod 0777 "$T/root-$who"
		set +e
		if [ $who = root ]; then
			"$tool" apply "$T/$1.tar" "$T/root-$who" lax 2>"$T/err"
		else
			as_builder "$tool" apply "$T/$1.tar" "$T/root-$who" lax 2>"$T/err"
		fi
		st=$?
		set -e
		[ "$st" = "$2" ] || fail "$1 ($who): exit $st, expected $2: $(cat "$T/err")"
		[ -z "$3" ] || grep -qF -- "$3" "$T/err" || fail "$1 ($who): stderr lacks '$3': $(cat "$T/err")"
		expect_eq "$(cat "$O/secret")" keep "$1 ($who): outside secret"
		expect_eq "$(ls "$O")" secret "$1 ($who): outside directory"
	done
}

say "parent-directory names"
mk dotdot '[("f", "../outside/secret", "pwned")]'
check dotdot 1 "'..' in a layer name is not allowed"
mk dotdot2 '[("f", "a/../../outside/new", "pwned")]'
check dotdot2 1 "'..' in a layer name is not allowed"

say "absolute names land inside"
mk abs "[(\"f\", \"$O/secret\", \"inside\")]"
check abs 0 ""
expect_eq "$(cat "$T/root-builder/$O/secret")" inside "absolute name made relative"

say "symlinked parents are never followed"
mk symparent "[(\"l\", \"up\", \"$O\"), (\"f\", \"up/secret\", \"pwned\")]"
check symparent 1 "parent 'up' is a symlink or not a directory"
mk symparent2 '[("l", "up", "../outside"), ("d", "up/x", None)]'
check symparent2 1 "refusing to follow"
mk symdeep '[("d", "d", None), ("l", "d/l", "/"), ("f", "d/l/outside/secret", "pwned")]'
check symdeep 1 "refusing to follow"

say "hardlinks out"
mk hlout '[("h", "x", "../outside/secret")]'
check hlout 1 "'..'"
mk hlabs "[(\"h\", \"x\", \"$O/secret\")]"
check hlabs 1 "hardlink target"
mk hlsym "[(\"l\", \"s\", \"$O\"), (\"h\", \"x\", \"s/secret\")]"
check hlsym 1 "refusing to follow"

say "a symlink replaced by a directory"
mk symdir "[(\"l\", \"d\", \"$O\"), (\"d\", \"d\", None), (\"f\", \"d/secret\", \"inside\")]"
check symdir 0 ""
expect_eq "$(cat "$T/root-builder/d/secret")" inside "file in the new directory"

say "a file over a symlink replaces the link"
mk symfile "[(\"l\", \"f\", \"$O/secret\"), (\"f\", \"f\", \"inside\")]"
check symfile 0 ""
[ -L "$T/root-builder/f" ] && fail "the symlink was written through"

say "whiteouts cannot reach out either"
mk whout '[("f", "../.wh.outside", "")]'
check whout 1 "'..'"
mk whsym "[(\"l\", \"up\", \"$O\"), (\"f\", \"up/.wh.secret\", \"\")]"
check whsym 1 "refusing to follow"

say "kiln load of a hostile archive fails and leaves nothing behind"
as_builder "$KILN" images --root "$T/store" >/dev/null
expect_fail 1 "'..' in a layer name is not allowed" as_builder "$KILN" load --root "$T/store" -i "$T/dotdot.tar"
expect_eq "$(ls "$T/store/tmp")" "" "tmp/ after a failed load"
expect_eq "$(cat "$O/secret")" keep "outside secret after load"
