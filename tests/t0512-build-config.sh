#!/bin/sh
# The instructions that shape the image config, rootless, with Docker's semantics:
# ENV (both forms, expansion later), ARG (global in FROM, per stage, --build-arg,
# unconsumed warning), WORKDIR, USER (applied to RUN), CMD, ENTRYPOINT (resets an
# inherited CMD), EXPOSE, LABEL, VOLUME, STOPSIGNAL, HEALTHCHECK, MAINTAINER,
# ONBUILD, FROM scratch and an inherited config; checked in the raw config and
# under podman.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
build_setup

# a base with a config for the next build to inherit, and users to switch to
b=$(ctx base)
cat >"$b/Dockerfile" <<'EOF'
FROM busybox:1
RUN echo 'app:x:1234:2345::/home/app:/bin/sh' >> /etc/passwd && \
    echo 'appgrp:x:2345:' >> /etc/group && echo 'extra:x:5555:other,app' >> /etc/group
ENV BASE_ENV=from-base PATH=/opt/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /srv
EXPOSE 80
LABEL base.label=yes
CMD ["inherited-cmd"]
EOF
kb -t base:1 "$b"

c=$(ctx cfg)
cat >"$c/Dockerfile" <<'EOF'
ARG BASE_IMAGE=busybox:1
ARG UNUSED_GLOBAL=x
FROM ${BASE_IMAGE}
ARG BASE_IMAGE
ARG STAGE_ARG=default
ARG OVERRIDDEN=default
ENV ONE=1 TWO="two words" THREE=$BASE_ENV
ENV LEGACY legacy form value
ENV FROM_ARG=$STAGE_ARG-$OVERRIDDEN FROM_GLOBAL=$BASE_IMAGE
WORKDIR rel
WORKDIR sub
WORKDIR /abs/$ONE
WORKDIR deeper
RUN pwd > /pwd.txt && echo "$TWO|$LEGACY|$FROM_ARG|$FROM_GLOBAL|$THREE" > /env.txt
ENV ONE=one-again SEEN=$ONE
LABEL seen.label=$ONE
USER app
WORKDIR /home/app/work
RUN id > /tmp/id-name.txt && touch /home/app/work/mine && echo "$HOME" > /tmp/home-app.txt
USER 1234:2345
RUN id > /tmp/id-uidgid.txt
USER 4321
RUN id > /tmp/id-uid.txt && echo "$HOME" > /tmp/home-4321.txt
USER root
RUN mkdir /out && cp /tmp/id-*.txt /tmp/home-*.txt /out/ && echo "$HOME" > /out/home-root.txt
ENTRYPOINT ["/bin/echo", "entry"]
EXPOSE 8080 9090/udp
LABEL multi.a="a b" multi.b=$ONE
LABEL legacy.label legacy value
VOLUME ["/data", "/cache"]
VOLUME /logs
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=30s --timeout=5s --start-period=1m30s --start-interval=2s --retries=4 \
    CMD wget -q -O- http://localhost/ || exit 1
MAINTAINER Kiln Tests <kiln@example.com>
USER app:appgrp
EOF
kb -t cfg:1 -t cfg:2 -t other/name --label from.cli=yes --label multi.b=cli \
	--build-arg BASE_IMAGE=base:1 --build-arg OVERRIDDEN=cli --build-arg NEVER_USED=1 "$c"
expect_contains "$(cat "$T/log")" "NEVER_USED" "warning for an unconsumed --build-arg"
! grep -q "UNUSED_GLOBAL" "$T/log" || fail "a warning about an ARG without --build-arg: $(cat "$T/log")"
id=$(cat "$T/out")

r=$(unpack cfg:1)
expect_eq "$(cat "$r/pwd.txt")" /abs/1/deeper "WORKDIR relative to the previous one"
expect_eq "$(stat -c %u:%g "$r/home/app/work" "$r/home/app")" "1234:2345
1234:2345" "WORKDIR after USER app: created owned by app, as BuildKit"
[ -d "$r/srv/rel/sub" ] || fail "WORKDIR rel/sub under the inherited /srv was not created"
expect_eq "$(cat "$r/env.txt")" "two words|legacy form value|default-cli|base:1|from-base" "ENV/ARG in RUN"
expect_contains "$(cat "$r/out/id-name.txt")" "uid=1234(app) gid=2345(appgrp)" "USER app in RUN"
expect_contains "$(cat "$r/out/id-name.txt")" "groups=2345(appgrp),5555(extra)" "USER app's supplementary groups in RUN"
expect_contains "$(cat "$r/out/id-uidgid.txt")" "uid=1234(app) gid=2345(appgrp)" "USER 1234:2345 in RUN"
expect_contains "$(cat "$r/out/id-uid.txt")" "uid=4321 gid=0(root) groups=0(root)" "USER 4321 in RUN"
# HOME in RUN, as runc sets it: the passwd entry's, else /
expect_eq "$(cat "$r/out/home-app.txt")" /home/app "HOME of app in RUN"
expect_eq "$(cat "$r/out/home-4321.txt")" / "HOME of a uid without a passwd entry"
expect_eq "$(cat "$r/out/home-root.txt")" /root "HOME of root in RUN"

q() { cfg cfg:1 "$1"; }
env=$(q '.config.Env')
for kv in ONE=one-again SEEN=1 'TWO=two words' THREE=from-base 'LEGACY=legacy form value' \
	FROM_ARG=default-cli FROM_GLOBAL=base:1 BASE_ENV=from-base PATH=/opt/bin:/usr/sbin:/usr/bin:/sbin:/bin; do
	expect_contains "$env" "\"$kv\"" "Env"
done
case "$env" in *STAGE_ARG* | *OVERRIDDEN=*) fail "ARGs leaked into Env: $env" ;; esac
expect_eq "$(q .config.WorkingDir)" '"/home/app/work"' "WorkingDir"
expect_eq "$(q .config.User)" '"app:appgrp"' "User"
expect_eq "$(q .config.Entrypoint)" '["/bin/echo","entry"]' "Entrypoint"
expect_eq "$(q .config.Cmd)" null "ENTRYPOINT resets the inherited CMD"
expect_eq "$(q '.config.ExposedPorts|keys')" '["80/tcp","8080/tcp","9090/udp"]' "ExposedPorts"
expect_eq "$(q '.config.Labels')" \
	'{"base.label":"yes","from.cli":"yes","legacy.label":"legacy value","multi.a":"a b","multi.b":"cli","seen.label":"one-again"}' \
	"Labels (--label wins)"
expect_eq "$(q '.config.Volumes|keys')" '["/cache","/data","/logs"]' "Volumes"
expect_eq "$(q .config.StopSignal)" '"SIGUSR1"' "StopSignal"
expect_eq "$(q .config.Healthcheck)" \
	'{"Interval":30000000000,"Retries":4,"StartInterval":2000000000,"StartPeriod":90000000000,"Test":["CMD-SHELL","wget -q -O- http://localhost/ || exit 1"],"Timeout":5000000000}' \
	"Healthcheck in nanoseconds"
expect_eq "$(q .author)" '"Kiln Tests <kiln@example.com>"' "MAINTAINER sets author"
# several -t name one image
for n in cfg:2 other/name:latest; do
	expect_eq "sha256:$(skopeo inspect --raw "oci:$KILN_ROOT:$n" | jq -r .config.digest | cut -d: -f2)" \
		"$id" "image id of $n"
done

# podman: the entrypoint gets the arguments, runs as app:appgrp in the workdir
out=$(prun cfg:1)
expect_eq "$out" "entry" "podman run with no CMD"
out=$(prun cfg:1 more args)
expect_eq "$out" "entry more args" "podman run with arguments"
out=$(as_builder podman --runtime runc run -q --rm --network none --entrypoint sh \
	"oci:$KILN_ROOT:cfg:1" -c 'id; pwd; echo $TWO' 2>/dev/null) || fail "podman run --entrypoint sh"
expect_contains "$out" "uid=1234(app) gid=2345(appgrp)" "podman: user"
expect_contains "$out" "/home/app/work" "podman: workdir"
expect_contains "$out" "two words" "podman: env"

# ENTRYPOINT and CMD in the same stage: both kept, CMD as ENTRYPOINT's arguments;
# FROM scratch: an empty config and no layers from a base
s=$(ctx scratch)
printf 'static file\n' >"$s/f"
cat >"$s/Dockerfile" <<'EOF'
FROM busybox:1 AS tools
FROM scratch
COPY --from=tools /bin/busybox /bin/busybox
COPY f /f
RUN ["/bin/busybox", "test", "-d", "/sys/class", "-a", "-d", "/proc/self"]
ENV PATH=$PATH:/extra
CMD ["default-arg"]
ENTRYPOINT ["/bin/busybox", "echo"]
CMD ["kept-arg"]
EOF
kb -t scratch:1 "$s"
expect_eq "$(cfg scratch:1 .config.Cmd)" '["kept-arg"]' "CMD after ENTRYPOINT kept"
# the RUN's layer holds the dev/, proc/ and sys/ it was given, as BuildKit's does (t0307)
expect_eq "$(cfg scratch:1 '.rootfs.diff_ids|length')" 3 "FROM scratch: the two COPY layers and the RUN's"
expect_eq "$(cfg scratch:1 '.config.Env')" '["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/extra"]' \
	"FROM scratch: BuildKit's default PATH"
expect_eq "$(cfg scratch:1 '.config.WorkingDir')" '"/"' "FROM scratch: WorkingDir /"
r=$(unpack scratch:1)
expect_eq "$(ls "$r" | tr '\n' ' ')" "bin dev f proc sys " "FROM scratch rootfs"
expect_eq "$(prun scratch:1)" "kept-arg" "podman run FROM scratch"

# ARG per stage: a global ARG is not visible in a stage unless declared there
a=$(ctx args)
cat >"$a/Dockerfile" <<'EOF'
ARG G=global
FROM busybox:1 AS one
RUN echo "one:[$G]" > /one.txt
FROM busybox:1
ARG G
ARG L=local
COPY --from=one /one.txt /
RUN echo "two:[$G][$L]" > /two.txt
WORKDIR /app/
WORKDIR ./sub/../other//
RUN pwd > /pwd.txt
ARG X=arg
ENV X=env Y=env
ARG Y=arg
RUN echo "$X $Y" > /xy.txt
EOF
kb -t args:1 --build-arg L=cli --build-arg Y=cli "$a"
expect_eq "$(cfg args:1 .config.WorkingDir)" '"/app/other"' "WORKDIR is cleaned, as BuildKit"
r=$(unpack args:1)
expect_eq "$(cat "$r/pwd.txt")" /app/other "RUN in a cleaned WORKDIR"
expect_eq "$(cat "$r/one.txt")" "one:[]" "a global ARG is not in scope without ARG in the stage"
expect_eq "$(cat "$r/two.txt")" "two:[global][cli]" "ARG G in the stage; --build-arg L"
expect_eq "$(cat "$r/xy.txt")" "env env" "ENV wins over ARG, before or after it"
