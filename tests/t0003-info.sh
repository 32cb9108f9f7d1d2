#!/bin/sh
# kiln info on the host: as root and as the rootless builder (subordinate ids
# from /etc/subuid), in text and json, with the same facts in both.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd jq

kiln info --root "$T/store" >"$T/text"
kiln info --root "$T/store" --format json >"$T/json"
expect_eq "$(jq -r .store "$T/json")" "$T/store" "store"
expect_eq "$(jq -r .isolation "$T/json")" sandbox "isolation as root"
expect_eq "$(jq -r .userns "$T/json")" "not needed (real root)" "userns as root"
grep -q "^isolation: *sandbox (user, mount, pid, uts and ipc namespaces can be made)$" "$T/text" ||
	fail "text: $(cat "$T/text")"
for k in store isolation storage user userns subuid subgid seccomp overlay pasta slirp4netns; do
	v=$(jq -r ".$k" "$T/json")
	[ -n "$v" ] && [ "$v" != null ] || fail "json: no $k: $(cat "$T/json")"
done
case $(jq -r .storage "$T/json") in overlay | copy) ;; *) fail "storage: $(cat "$T/json")" ;; esac
expect_eq "$(jq -r .pasta "$T/json")" "$(command -v pasta || echo 'not found')" "pasta"

as_builder "$KILN" info --root "$T/b-store" --format json >"$T/bjson"
start=$(grep "^$KILN_TEST_USER:" /etc/subuid | cut -d: -f2)
count=$(grep "^$KILN_TEST_USER:" /etc/subuid | cut -d: -f3)
expect_eq "$(jq -r .subuid "$T/bjson")" \
	"$start-$((start + count - 1)) ($count ids, /etc/subuid)" "builder's subuid"
expect_eq "$(jq -r .userns "$T/bjson")" "entered, with subordinate ids mapped (0-65535)" "userns"
expect_eq "$(jq -r .isolation "$T/bjson")" sandbox "isolation rootless"
expect_fail 2 "expected [--format text|json]" kiln info --format yaml
