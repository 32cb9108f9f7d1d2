#!/bin/sh
# RUN with Docker's semantics, rootless: shell and exec form, heredocs (with a
# command, quoted delimiters, <<- tab stripping), SHELL, whiteouts of files
# deleted by a later RUN, and a sandbox that cannot see the host's /root, /work
# or the build context.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
build_setup

c=$(ctx run)
echo "context secret" >"$c/in-context.txt"
tab=$(printf '\t')
cat >"$c/Dockerfile" <<EOF
FROM busybox:1
ENV WHO=kiln
RUN echo "shell \$WHO \$0" > /shell.txt && mkdir -p /gone && echo x > /gone/f && echo y > /keep
RUN ["/bin/sh", "-c", "echo exec \$WHO > /exec.txt"]
RUN ["echo", "no \$WHO expansion"]
RUN <<EOT
echo "heredoc \$WHO" > /heredoc.txt
echo second line >> /heredoc.txt
EOT
RUN sh <<'EOT' > /cmd.txt
echo "from sh: \$WHO"
EOT
RUN cat <<'EOT' > /quoted.txt
not \$WHO
EOT
RUN cat <<-EOT > /tabs.txt
${tab}${tab}stripped \$WHO
${tab}EOT
RUN rm -r /gone /keep && echo z > /keep2
RUN rm /linuxrc && mkdir -p /op/sub && touch /op/a /op/sub/b
RUN rm -rf /op && mkdir /op && touch /op/c
RUN ls /root > /root-ls.txt; ls -a /work > /work-ls.txt 2>&1; \\
    ls / > /top.txt; test ! -e /in-context.txt; \\
    ls /sys/class/net > /sys-net.txt; touch /sys/x 2> /sys-touch.txt || true
SHELL ["/bin/sh", "-c", "echo shell-prefix; eval \"\$1\"", "kiln-shell"]
RUN echo "via SHELL \$0" > /via-shell.txt
CMD echo "cmd via SHELL \$0"
EOF
kb -t run:1 "$c"

r=$(unpack run:1)
expect_eq "$(cat "$r/shell.txt")" "shell kiln /bin/sh" "shell form"
expect_eq "$(cat "$r/exec.txt")" "exec kiln" "exec form through sh -c"
grep -q 'no \$WHO expansion' "$T/log" || fail "exec form without a shell expanded \$WHO: $(cat "$T/log")"
expect_eq "$(cat "$r/heredoc.txt")" "heredoc kiln
second line" "RUN <<EOT"
expect_eq "$(cat "$r/cmd.txt")" "from sh: kiln" "RUN sh <<'EOT'"
expect_eq "$(cat "$r/quoted.txt")" 'not $WHO' "quoted delimiter does not expand"
expect_eq "$(cat "$r/tabs.txt")" "stripped kiln" "<<- strips leading tabs"
# whiteouts: deleted in a later RUN, absent from the image
[ ! -e "$r/gone" ] || fail "/gone deleted by a later RUN is in the image"
[ ! -e "$r/keep" ] || fail "/keep deleted by a later RUN is in the image"
expect_eq "$(cat "$r/keep2")" z "/keep2"
[ ! -e "$r/linuxrc" ] && [ ! -L "$r/linuxrc" ] || fail "/linuxrc of the base layer deleted by RUN is in the image"
expect_eq "$(ls -A "$r/op" | tr '\n' ' ')" "c " "a directory removed and made again holds only its new files"
# the sandbox: the host's /root and /work are not visible, nor is the context
expect_eq "$(cat "$r/root-ls.txt")" "" "/root in the sandbox"
expect_contains "$(cat "$r/work-ls.txt")" "No such file" "/work in the sandbox"
! grep -qx work "$r/top.txt" || fail "/work is visible in RUN"
[ ! -e "$r/in-context.txt" ] || fail "the build context leaked into the image"
# a read-only /sys, as Docker (a fresh one: RUN has a network namespace of its own)
grep -qx lo "$r/sys-net.txt" || fail "/sys/class/net in RUN: $(cat "$r/sys-net.txt")"
expect_contains "$(cat "$r/sys-touch.txt")" "Read-only file system" "/sys in RUN"
expect_eq "$(ls -A "$r/sys")" "" "/sys in the image"
# SHELL changes RUN and the shell form of CMD
expect_eq "$(cat "$r/via-shell.txt")" "via SHELL kiln-shell" "RUN through SHELL"
expect_eq "$(cfg run:1 .config.Shell)" '["/bin/sh","-c","echo shell-prefix; eval \"$1\"","kiln-shell"]' "Shell"
expect_eq "$(cfg run:1 .config.Cmd)" '["/bin/sh","-c","echo shell-prefix; eval \"$1\"","kiln-shell","echo \"cmd via SHELL $0\""]' "Cmd via SHELL"
out=$(prun run:1)
expect_contains "$out" "shell-prefix" "podman run of the shell-form CMD"
expect_contains "$out" "cmd via SHELL kiln-shell" "podman run of the shell-form CMD"
# podman sees the whiteouts too
out=$(prun run:1 sh -c 'ls /gone /keep /linuxrc 2>&1; cat /keep2; ls -A /op')
expect_contains "$out" "No such file" "podman: deleted files"
expect_contains "$out" "z" "podman: /keep2"
expect_contains "$out" "/linuxrc: No such file" "podman: a base file deleted"
case "$out" in *sub*) fail "podman: /op still has the old files: $out" ;; esac
