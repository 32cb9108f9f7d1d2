#!/bin/sh
# With SOURCE_DATE_EPOCH, two builds from scratch (different stores, different
# times) give the same image, bit for bit; layer file times are clamped to it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd umoci skopeo jq
# the base image too: `kiln import` honours SOURCE_DATE_EPOCH
export SOURCE_DATE_EPOCH=1700000000
build_setup

c=$(ctx repro)
echo content >"$c/file.txt"
cat >"$c/Dockerfile" <<'EOF2'
FROM busybox:1
COPY file.txt /app/file.txt
RUN mkdir -p /app/made && echo made > /app/made/x && ln -s x /app/made/link
ENV A=1
CMD ["cat", "/app/file.txt"]
EOF2
chown -R "$KILN_TEST_USER": "$c"

digest_of() { skopeo inspect --raw "oci:$1:$2" | sha256sum | cut -d' ' -f1; }

kb -t r:1 "$c"
first_id=$(cat "$T/out")
first=$(digest_of "$KILN_ROOT" r:1)
sleep 1.1
touch "$c/file.txt"
KILN_ROOT="$T/store2"
build_setup
kb -t r:1 "$c"
expect_eq "$(cat "$T/out")" "$first_id" "image id of the second build"
expect_eq "$(digest_of "$KILN_ROOT" r:1)" "$first" "manifest digest of the second build"

skopeo inspect --config "oci:$KILN_ROOT:r:1" >"$T/config.json"
expect_eq "$(jq -r .created "$T/config.json")" "2023-11-14T22:13:20Z" "config created"
expect_eq "$(jq -r '[.history[].created] | unique | join(",")' "$T/config.json")" "2023-11-14T22:13:20Z" "history times"
umoci unpack --image "$KILN_ROOT:r:1" "$T/u" >/dev/null
for f in app/file.txt app/made/x app/made app; do
	expect_eq "$(stat -c %Y "$T/u/rootfs/$f")" 1700000000 "mtime of /$f"
done

# --source-date-epoch on the command line does the same
unset SOURCE_DATE_EPOCH
kb -t r:2 --source-date-epoch 1700000000 --no-cache "$c"
expect_eq "$(cat "$T/out")" "$first_id" "image id with --source-date-epoch"
