#!/bin/sh
# The CI jobs of doc/ci.md, their commands run under podman as the job would
# run them: root in a default container (GitLab's Kubernetes executor, a
# Kubernetes Job with allowPrivilegeEscalation: false, with and without
# Kubernetes' default of no seccomp profile), the registry secret mounted
# read-only as auth.json (REGISTRY_AUTH_FILE) or config.json (DOCKER_CONFIG),
# the store on a volume of its own. Each builds a Dockerfile with an
# apt-get-style RUN (a user added, chown to it, a base file deleted), COPY and
# a multi-stage copy, pushes it with kaniko's flags to a registry that wants
# the password, and the image is checked with skopeo, umoci and podman run.
# RUN must see nothing of the credentials.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-container.sh"
REGISTRY_EXTRA_CONFIG=$(registry_htpasswd ci 'Ci-s3cret')
registry_start
R=$REGISTRY
ctr_setup
cp "$(busybox_rootfs_tar)" "$T/base.tar"

# the secret, as Kubernetes mounts a dockerconfigjson key
mkdir -p "$T/secret"
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$R" "$(printf 'ci:Ci-s3cret' | base64 -w0)" \
	>"$T/secret/auth.json"
cp "$T/secret/auth.json" "$T/secret/config.json"

mkdir -p "$T/w"
cat >"$T/w/Dockerfile" <<'DF'
FROM busybox:1 AS tools
RUN mkdir /out && echo "made in a stage" > /out/tool
FROM busybox:1
RUN echo app:x:1234:1234::/:/bin/sh >> /etc/passwd && echo app:x:1234: >> /etc/group && \
    mkdir /data && echo hi > /data/f && chown -R app:app /data && rm /linuxrc
COPY src registry /
COPY --from=tools /out/tool /usr/local/share/tool
RUN wget -S -O /dev/null "http://$(cat /registry)/v2/" 2>/net; true
RUN (env; cat /auth/auth.json /auth/config.json; ls -a /auth /var/lib/kiln; \
     cat /proc/[0-9]*/environ) > /leak 2>&1; true
CMD ["cat", "/data/f"]
DF
echo "the job's source" >"$T/w/src"
echo "$R" >"$T/w/registry" # RUN reaches it through the job's network
chmod -R a+rX "$T/w" "$T/secret"

# job NAME PODMAN-OPTS...: the job's command in the container; its store is a
# volume of its own, the workspace and the secret are mounted read-only
job() {
	name=$1
	shift
	mkdir -p "$T/store-$name"
	ctr --host-network -v "$T/secret:/auth:ro" -v "$T/w:/workspace:ro" \
		-v "$T/store-$name:/var/lib/kiln" -e KILN_ROOT=/var/lib/kiln "$@" -- sh -c \
		"'$KILN' import '$T/base.tar' busybox:1 >/dev/null &&
		 '$KILN' build --progress=plain --tls-verify=false \
		    --context dir:///workspace --dockerfile Dockerfile \
		    --destination '$R/ci/$name:1' --destination '$R/ci/$name:latest' \
		    --digest-file /var/lib/kiln/digest" >"$T/log.$name" 2>&1 ||
		fail "job $name: $(cat "$T/log.$name")"
	sed -n 's/^# isolation: //p' "$T/log.$name" | sed "s/^/# $name: isolation: /"
}

# check NAME: the pushed image, read with the credentials
check() {
	name=$1
	d=$(cat "$T/store-$name/digest")
	for tag in 1 latest; do
		expect_eq "$(skopeo inspect --tls-verify=false --creds ci:Ci-s3cret \
			--format '{{.Digest}}' "docker://$R/ci/$name:$tag")" "$d" "$name: $tag's digest"
	done
	skopeo copy -q --src-tls-verify=false --src-creds ci:Ci-s3cret "docker://$R/ci/$name:1" \
		"oci:$T/oci-$name:1"
	u=$T/u-$name
	umoci unpack --image "$T/oci-$name:1" "$u" >/dev/null
	expect_eq "$(stat -c '%u:%g %a' "$u/rootfs/data/f")" "1234:1234 644" "$name: /data/f"
	expect_eq "$(cat "$u/rootfs/src")" "the job's source" "$name: COPY"
	expect_eq "$(cat "$u/rootfs/usr/local/share/tool")" "made in a stage" "$name: COPY --from"
	[ ! -e "$u/rootfs/linuxrc" ] || fail "$name: /linuxrc not deleted"
	grep -q 'HTTP/1.1 401 Unauthorized' "$u/rootfs/net" ||
		fail "$name: RUN's network: $(cat "$u/rootfs/net")"
	if grep -qE 'Q2ktczNjcmV0|Ci-s3cret|REGISTRY_AUTH|DOCKER_CONFIG|auths' "$u/rootfs/leak"; then
		fail "$name: RUN saw the credentials: $(cat "$u/rootfs/leak")"
	fi
	grep -q 'No such file or directory' "$u/rootfs/leak" || fail "$name: $(cat "$u/rootfs/leak")"
	out=$(as_builder podman --runtime runc run -q --rm --network none "oci:$T/oci-$name:1" 2>&1) ||
		fail "$name: podman run: $out"
	expect_eq "$(printf '%s\n' "$out" | grep -v '^time=.* level=warning')" hi "$name: podman run"
}
chmod 0755 "$T"

say "GitLab CI, Kubernetes executor: root, default capabilities and seccomp, REGISTRY_AUTH_FILE"
job gitlab -e REGISTRY_AUTH_FILE=/auth/auth.json
grep -q '^# isolation: chroot (no namespaces: ' "$T/log.gitlab" || fail "$(cat "$T/log.gitlab")"
check gitlab

say "Kubernetes Job: allowPrivilegeEscalation: false, the runtime's seccomp profile, DOCKER_CONFIG"
job k8s -e DOCKER_CONFIG=/auth --security-opt no-new-privileges
grep -q '^# isolation: chroot (no namespaces: ' "$T/log.k8s" || fail "$(cat "$T/log.k8s")"
check k8s

say "Kubernetes Job without a seccomp profile (Kubernetes' default)"
job k8s-unconfined -e REGISTRY_AUTH_FILE=/auth/auth.json --security-opt no-new-privileges \
	--security-opt seccomp=unconfined
grep -q '^# isolation: reduced sandbox (no fresh /proc: ' "$T/log.k8s-unconfined" ||
	fail "$(cat "$T/log.k8s-unconfined")"
grep -q "^# network: the container's, as --network=host" "$T/log.k8s-unconfined" ||
	fail "$(cat "$T/log.k8s-unconfined")"
check k8s-unconfined

say "without the secret the push is refused, naming the registry"
mkdir -p "$T/store-nocreds"
set +e
ctr --host-network -v "$T/w:/workspace:ro" -v "$T/store-nocreds:/var/lib/kiln" \
	-e KILN_ROOT=/var/lib/kiln -- sh -c "'$KILN' import '$T/base.tar' busybox:1 >/dev/null &&
	'$KILN' build --tls-verify=false --context /workspace --destination '$R/ci/nocreds:1'" \
	>"$T/log.nocreds" 2>&1
rc=$?
set -e
expect_eq "$rc" 1 "a push without credentials"
grep -q "$R" "$T/log.nocreds" || fail "$(cat "$T/log.nocreds")"
