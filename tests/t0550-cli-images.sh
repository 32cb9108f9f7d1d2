#!/bin/sh
# kiln images and kiln history as docker prints them: the columns, -q, --no-trunc,
# --digests, every --filter, --format templates and json; checked against the
# store's own view (kiln inspect) and against docker's documented formats.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
need_cmd python3

build_setup
ki() { as_runner "$KILN" "$@"; }
SOURCE_DATE_EPOCH=1700000000 ki import "$(busybox_rootfs_tar)" old:1 >/dev/null
c=$(ctx app)
echo hello >"$c/f"
printf 'FROM busybox:1\nCOPY f /f\nLABEL stage=a\n' >"$c/Dockerfile"
kb --source-date-epoch 1750000000 -t app:1 "$c"
ki tag app:1 user/app >/dev/null
ki tag app:1 localhost:5000/team/app:2 >/dev/null
# an unnamed index entry (another OCI tool's, or an untagged image) is dangling
old_digest=$(ki inspect old:1 | jq -r .Digest)
jq --arg d "$old_digest" '.manifests += [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: (.manifests[0].size)}]' \
	"$KILN_ROOT/index.json" >"$T/index.json"
size=$(stat -c %s "$KILN_ROOT/blobs/sha256/${old_digest#sha256:}")
jq --argjson s "$size" '.manifests[-1].size = $s' "$T/index.json" >"$KILN_ROOT/index.json"
app_id=$(ki inspect app:1 | jq -r .Id)

say "the default table: docker's header, aligned columns, newest first"
ki images >"$T/table"
head -n1 "$T/table" | grep -Eqx 'REPOSITORY +TAG +IMAGE ID +CREATED +SIZE' ||
	fail "header: $(head -n1 "$T/table")"
python3 - "$T/table" <<'PY' || fail "table: $(cat "$T/table")"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
h = lines[0]
cols = [h.index(c) for c in ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")]
# docker's tabwriter: each column is its widest cell + 3, at least 10
rows = []
for l in lines[1:]:
    cells = [l[a:b].rstrip() for a, b in zip(cols, cols[1:] + [None])]
    for a in cols[1:]:
        assert l[a - 1] == " " and l[a] != " ", (l, a)
    rows.append(cells)
for i in range(len(cols) - 1):
    head = [h[a:b].rstrip() for a, b in zip(cols, cols[1:] + [None])]
    width = max(len(r[i]) for r in rows + [head])
    assert cols[i + 1] - cols[i] == max(width + 3, 10), (i, cols, width)
names = [(r[0], r[1]) for r in rows]
assert names[0] == ("busybox", "1"), names
assert set(names[1:4]) == {("app", "1"), ("user/app", "latest"), ("localhost:5000/team/app", "2")}, names
assert sorted(names[4:]) == [("<none>", "<none>"), ("old", "1")], names
for r in rows:
    assert re.fullmatch(r"[0-9a-f]{12}", r[2]), r
    assert re.fullmatch(r"[0-9.]+(B|kB|MB|GB)", r[4]), r
    assert r[3].endswith(" ago"), r
PY
expect_eq "$(grep '^app ' "$T/table" | awk '{print $3}')" "$(echo "$app_id" | cut -c8-19)" "app's IMAGE ID"

say "CREATED and SIZE in docker's units"
expect_eq "$(ki images --format '{{.CreatedSince}}' old:1)" \
	"$(python3 -c 'import time; print("%d years ago" % ((int(time.time()) - 1700000000) // 3600 // 24 // 365))')" "old's CREATED"
ki images --format '{{.CreatedSince}}' busybox:1 | grep -Eqx '(Less than a second|1 second|[0-9]+ seconds|About a minute|[0-9]+ minutes) ago' ||
	fail "busybox's CREATED: $(ki images --format '{{.CreatedSince}}' busybox:1)"
expect_eq "$(ki images --format '{{.CreatedAt}}' old:1)" "$(date -d @1700000000 '+%Y-%m-%d %H:%M:%S %z %Z')" "CreatedAt"
want=$(ki inspect app:1 | python3 -c '
import json, sys
m = json.load(sys.stdin)["Manifest"]
n = len(json.dumps(m, separators=(",", ":"), sort_keys=True)) + sum(l["size"] for l in m["layers"])
u = ["B", "kB", "MB", "GB"]; i = 0; v = float(n)
while v >= 1000: v /= 1000; i += 1
print("%.3g%s" % (v, u[i]))')
expect_eq "$(ki images --format '{{.Size}}' app:1)" "$want" "app's SIZE"

say "-q is --format '{{.ID}}'; --no-trunc gives sha256: IDs"
expect_eq "$(ki images -q)" "$(ki images --format '{{.ID}}')" "-q"
expect_eq "$(ki images -q | wc -l)" 6 "-q lines"
ki images -q --no-trunc | grep -Evqx 'sha256:[0-9a-f]{64}' && fail "--no-trunc -q: $(ki images -q --no-trunc)"
expect_eq "$(ki images -q --no-trunc | cut -c8-19)" "$(ki images -q)" "--no-trunc prefix"
expect_eq "$(ki images --no-trunc -q app:1)" "$app_id" "--no-trunc ID"
expect_eq "$(ki images -a -q)" "$(ki images -q)" "-a (no intermediate images)"

say "--digests"
head -n1 "$(ki images --digests >"$T/d"; echo "$T/d")" | grep -Eqx 'REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE' ||
	fail "--digests header: $(head -n1 "$T/d")"
expect_eq "$(grep '^app ' "$T/d" | awk '{print $3}')" "$(ki inspect app:1 | jq -r .Digest)" "DIGEST"

say "--filter and NAME"
f() { ki images --format '{{.Repository}}:{{.Tag}}' "$@" | sort | tr '\n' ' '; }
expect_eq "$(f --filter reference=app)" "app:1 " "reference=app"
expect_eq "$(f --filter reference=app:1)" "app:1 " "reference=app:1"
expect_eq "$(f --filter 'reference=*/app')" "user/app:latest " "reference=*/app (* stops at /)"
expect_eq "$(f --filter 'reference=*app*')" "app:1 " "reference=*app*"
expect_eq "$(f --filter 'reference=*/*/app:?')" "localhost:5000/team/app:2 " "reference=*/*/app:?"
expect_eq "$(f --filter reference=app --filter reference=old)" "app:1 old:1 " "two references: either"
expect_eq "$(f user/app)" "user/app:latest " "images NAME"
expect_eq "$(f --filter dangling=true)" "<none>:<none> " "dangling=true"
expect_eq "$(f --filter dangling=false | wc -w)" 5 "dangling=false"
expect_eq "$(f --filter before=app:1)" "<none>:<none> old:1 " "before="
expect_eq "$(f --filter since=app:1)" "busybox:1 " "since="
expect_eq "$(f --filter label=stage)" "app:1 localhost:5000/team/app:2 user/app:latest " "label=K"
expect_eq "$(f --filter label=stage=a --filter 'reference=user/*')" "user/app:latest " "label=K=V and reference"
expect_eq "$(f --filter label=stage=b)" "" "label=K=V, another value"
expect_fail 2 "invalid filter 'bogus'" ki images --filter bogus=1
expect_fail 2 "dangling: expected true or false" ki images --filter dangling=maybe
expect_fail 1 "image 'nosuch' not found" ki images --filter since=nosuch

say "--format templates, table TEMPLATE and json"
expect_eq "$(ki images --format '{{.Repository}}:{{.Tag}} {{ .ID }}' app:1)" "app:1 $(echo "$app_id" | cut -c8-19)" "template"
ki images --format 'table {{.Repository}}\t{{.Tag}}' user/app >"$T/t"
expect_eq "$(cat "$T/t")" "$(printf 'REPOSITORY   TAG\nuser/app     latest')" "table TEMPLATE"
ki images --format json >"$T/j"
expect_eq "$(wc -l <"$T/j")" 6 "json: one object per line"
# docker's keys, and Platform (an index's platforms, t0560)
expect_eq "$(jq -c 'keys' "$T/j" | sort -u)" \
	'["Containers","CreatedAt","CreatedSince","Digest","ID","Platform","Repository","SharedSize","Size","Tag","UniqueSize","VirtualSize"]' "json keys"
expect_eq "$(jq -r .Platform "$T/j" | sort -u)" "linux/$(uname -m | sed "s/x86_64/amd64/;s/aarch64/arm64/")" "json Platform"
grep -qF '"Repository":"\u003cnone\u003e"' "$T/j" || fail "json does not escape <none> as Go does: $(cat "$T/j")"
expect_eq "$(jq -r 'select(.Repository == "app") | .ID' "$T/j")" "$(echo "$app_id" | cut -c8-19)" "json ID"
expect_eq "$(ki images --format '{{json .Tag}}' app:1)" '"1"' "{{json .Field}}"
expect_fail 2 "unknown action '{{.Nope}}'" ki images --format '{{.Nope}}'
expect_fail 2 "'{{' without '}}'" ki images --format '{{.ID'

say "kiln history: docker's columns"
ki history app:1 >"$T/h"
head -n1 "$T/h" | grep -Eqx 'IMAGE +CREATED +CREATED BY +SIZE +COMMENT' || fail "history header: $(head -n1 "$T/h")"
n=$(ki inspect app:1 | jq '.Config.history | length')
expect_eq "$(tail -n +2 "$T/h" | wc -l)" "$n" "one line per history entry"
expect_eq "$(ki history -q app:1 | head -n1)" "$(echo "$app_id" | cut -c8-19)" "top line: the image ID"
expect_eq "$(ki history -q app:1 | tail -n +2 | sort -u)" "<missing>" "older lines: <missing>"
expect_eq "$(ki history -q --no-trunc app:1 | head -n1)" "$app_id" "--no-trunc ID"
expect_eq "$(ki history -q app:1)" "$(ki history --format '{{.ID}}' app:1)" "history -q"
copy_size=$(ki inspect app:1 | jq '.Manifest.layers[-1].size' | python3 -c '
import sys; n = float(sys.stdin.read()); u = ["B", "kB", "MB"]; i = 0
while n >= 1000: n /= 1000; i += 1
print("%.3g%s" % (n, u[i]))')
expect_eq "$(ki history --format '{{.Size}}|{{.CreatedBy}}' app:1 | grep COPY | cut -d'|' -f1)" "$copy_size" "COPY layer size"
expect_eq "$(ki history --format '{{.Size}}|{{.CreatedBy}}' app:1 | grep LABEL | cut -d'|' -f1)" "0B" "LABEL: no layer"
expect_eq "$(ki history --format '{{.CreatedAt}}' app:1 | head -n1)" "$(date -d @1750000000 '+%Y-%m-%d %H:%M:%S %z %Z')" "history CreatedAt"
expect_eq "$(ki history --format json app:1 | jq -c keys | sort -u)" \
	'["Comment","CreatedAt","CreatedBy","CreatedSince","ID","Size"]' "history json keys"
long=$(ki history --no-trunc --format '{{.CreatedBy}}' app:1 | awk 'length > 45' | head -n1)
if [ -n "$long" ]; then
	cut=$(ki history --format '{{.CreatedBy}}' app:1 | grep -F "$(printf %s "$long" | cut -c1-20)" | head -n1)
	expect_eq "$cut" "$(printf %s "$long" | cut -c1-44)…" "CREATED BY cut at 45 with …"
fi
expect_fail 1 "image 'nosuch' not found" ki history nosuch
