#!/bin/sh
# kiln rmi with several names and -f, kiln image prune (dangling, -a) and
# kiln system df, with docker's messages and table; their effect checked in the
# store (index.json, blobs/) and with kiln fsck.
. "$(dirname "$0")/lib.sh"
need_cmd jq python3

R=$T/store
ki() { as_builder "$KILN" "$@" --root "$R"; }
tar=$(busybox_rootfs_tar)
SOURCE_DATE_EPOCH=1 ki import "$tar" a:1 >/dev/null
ki tag a:1 a:2 >/dev/null
ki tag a:1 other/a >/dev/null
SOURCE_DATE_EPOCH=2 ki import "$tar" b:1 >/dev/null
SOURCE_DATE_EPOCH=3 ki import "$tar" c:1 >/dev/null
a_id=$(ki inspect a:1 | jq -r .Id)
names() { jq -r '[.manifests[] | .annotations["org.opencontainers.image.ref.name"] // "<none>"] | sort | join(" ")' "$R/index.json"; }

say "rmi: an ID with several names needs -f, as docker"
expect_fail 1 "unable to delete $(echo "$a_id" | cut -c8-19) (must be forced) - image is referenced in multiple repositories" \
	ki rmi "$(echo "$a_id" | cut -c8-19)"
expect_eq "$(names)" "a:1 a:2 b:1 c:1 other/a:latest" "nothing removed without -f"
out=$(ki rmi -f "$(echo "$a_id" | cut -c8-19)")
expect_eq "$(printf '%s\n' "$out" | sort | tr '\n' ' ')" "Untagged: a:1 Untagged: a:2 Untagged: other/a:latest " "rmi -f output"
expect_eq "$(names)" "b:1 c:1" "rmi -f ID removes every name"

say "rmi: several names at once"
ki tag b:1 b:2 >/dev/null
expect_eq "$(ki rmi b:2 c:1)" "$(printf 'Untagged: b:2\nUntagged: c:1')" "rmi NAME NAME"
expect_eq "$(names)" "b:1" "both gone"
expect_fail 1 "image 'nosuch' not found" ki rmi nosuch

say "image prune: dangling (unnamed) entries only, after confirmation"
ki import "$tar" d:1 >/dev/null
d_digest=$(ki inspect d:1 | jq -r .Digest)
d_id=$(ki inspect d:1 | jq -r .Id)
jq '(.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "d:1")) |= del(.annotations)' \
	"$R/index.json" >"$T/i" && cat "$T/i" >"$R/index.json"
expect_eq "$(names)" "<none> b:1" "d is dangling"
expect_eq "$(ki images --filter dangling=true -q --no-trunc)" "$d_id" "images sees it dangling"
out=$(echo n | ki image prune)
expect_contains "$out" "WARNING! This will remove all dangling images."
expect_eq "$(names)" "<none> b:1" "'n' keeps everything"
[ -f "$R/blobs/sha256/${d_digest#sha256:}" ] || fail "'n' removed a blob"
out=$(echo y | ki image prune)
expect_contains "$out" "$(printf 'Deleted Images:\ndeleted: %s' "$d_id")"
printf '%s\n' "$out" | grep -Eqx 'Total reclaimed space: [0-9.]+(B|kB|MB)' || fail "no total: $out"
expect_eq "$(names)" "b:1" "the dangling entry is gone"
[ ! -e "$R/blobs/sha256/${d_digest#sha256:}" ] || fail "the dangling image's manifest is still there"
ki fsck >/dev/null || fail "fsck after image prune"
expect_eq "$(ki images -q --no-trunc)" "$(ki inspect b:1 | jq -r .Id)" "b is kept"

say "system df: docker's table"
ki system df >"$T/df"
head -n1 "$T/df" | grep -Eqx 'TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE' || fail "df header: $(cat "$T/df")"
expect_eq "$(awk 'NR > 1 {print $1}' "$T/df" | tr '\n' ' ')" "Images Containers Local Build " "df rows"
bytes=$(find "$R/blobs/sha256" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
want=$(python3 -c "
v = float($bytes); u = ['B', 'kB', 'MB', 'GB']; i = 0
while v >= 1000: v /= 1000; i += 1
print('%.3g%s' % (v, u[i]))")
expect_eq "$(ki system df --format '{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}' | head -n1)" \
	"Images 1 1 $want 0B (0%)" "Images row"
ki tag b:1 e:1 >/dev/null
ki import "$tar" f:1 >/dev/null
jq '(.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "f:1")) |= del(.annotations)' \
	"$R/index.json" >"$T/i" && cat "$T/i" >"$R/index.json"
ki system df --format json | head -n1 | jq -e '.Type == "Images" and .TotalCount == "2" and .Active == "1"' >/dev/null ||
	fail "df json: $(ki system df --format json)"
ki system df --format '{{.Reclaimable}}' | head -n1 | grep -Eq '^[0-9.]+(B|kB|MB) \([0-9]+%\)$' || fail "reclaimable"

say "image prune -a: every image"
out=$(ki image prune -a -f)
expect_eq "$(printf '%s\n' "$out" | grep -c '^untagged: ')" 2 "untagged b:1 and e:1"
expect_eq "$(names)" "" "no image left"
expect_eq "$(find "$R/blobs/sha256" -type f | wc -l)" 0 "no blob left"
expect_eq "$(ki system df --format '{{.Size}}' | head -n1)" "0B" "df after prune -a"
expect_fail 2 "image: unknown subcommand 'nope'" ki image nope
expect_fail 2 "system df: unexpected argument 'x'" ki system df x
