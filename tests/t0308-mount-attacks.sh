#!/bin/sh
# RUN --mount, tried as a hostile Dockerfile would, rootless, as root, and as root
# of a user namespace kiln did not make (a rootless container):
#  - a bind mount remounted rw writes neither the context nor a snapshot
#    (from=IMAGE, from=STAGE), and no later build (--no-cache too) sees it;
#  - a context bind mount shows what COPY sees (.dockerignore, nested, !);
#  - a secret lives in memory only (0400 by default, mode/uid/gid honoured):
#    no file of the store or $T holds it while the RUN runs or after kill -9;
#  - the RUN key covers the content of a from= source;
#  - a cache mount with from=STAGE,source=DIR starts with that DIR.
. "$(dirname "$0")/lib.sh"
. "$KILN_SRC/tests/lib-build.sh"
need_root
need_cmd unshare

# "inherited": root of a user namespace kiln did not make (a rootless container)
as_runner() {
	case $KILN_BUILD_AS in
	root) (cd "$T" && "$@") ;;
	inherited) (cd "$T" && unshare -Ur "$@") ;;
	*) as_builder env KILN_ROOT="$KILN_ROOT" "$@" ;;
	esac
}
own_ctx() {
	[ "$KILN_BUILD_AS" = builder ] && [ -d "$T/c" ] && chown -R "$KILN_TEST_USER": "$T/c" || true
}

# a digest of the snapshots SNAP...: names, types, modes, owners, link targets, content
snap_digest() {
	(cd "$KILN_ROOT/snapshots" && find "$@" -printf '%p %y %m %U %G %s %l\n' | LC_ALL=C sort &&
		find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum
}

remount_attacks() {
	c=$(ctx "remount-$1")
	echo original >"$c/victim"
	cat >"$c/Dockerfile" <<-'EOF'
	FROM busybox:1 AS one
	FROM busybox:1 AS two
	RUN echo two > /two
	FROM busybox:1
	RUN --mount=type=bind,target=/ctx \
	    mount -o remount,rw,bind /ctx 2>/dev/null; mount -o remount,rw /ctx 2>/dev/null; \
	    echo pwned > /ctx/victim 2>/dev/null; echo pwned > /ctx/planted 2>/dev/null; true
	RUN --mount=type=bind,target=/ctx,rw \
	    mount -o remount,rw,bind /ctx 2>/dev/null; echo pwned > /ctx/victim && \
	    grep -q pwned /ctx/victim
	RUN --mount=type=bind,from=busybox:1,target=/img \
	    mount -o remount,rw,bind /img 2>/dev/null; mount -o remount,rw /img 2>/dev/null; \
	    echo pwned > /img/poison 2>/dev/null; echo pwned >> /img/etc/passwd 2>/dev/null; true
	RUN --mount=type=bind,from=one,target=/one \
	    mount -o remount,rw,bind /one 2>/dev/null; echo pwned > /one/poison 2>/dev/null; true
	RUN --mount=type=bind,from=two,target=/two \
	    mount -o remount,rw,bind /two 2>/dev/null; echo pwned > /two/poison 2>/dev/null; true
	RUN --mount=type=bind,from=busybox:1,target=/img,rw \
	    mount -o remount,rw,bind /img 2>/dev/null; echo pwned > /img/poison && \
	    echo pwned >> /img/etc/passwd && grep -q pwned /img/poison
	EOF
	printf 'FROM busybox:1 AS two\nRUN echo two > /two\n' >"$c/Dockerfile.two"
	kb -f "$c/Dockerfile.two" "$c"
	snaps=$(ls "$KILN_ROOT/snapshots")
	# shellcheck disable=SC2086
	before=$(snap_digest $snaps)
	# shellcheck disable=SC2086
	kb $storage -t remount:1 "$c"
	expect_eq "$(cat "$c/victim")" original "the context's victim file after a remount rw"
	[ ! -e "$c/planted" ] || fail "a RUN planted a file in the context"
	# shellcheck disable=SC2086
	expect_eq "$(snap_digest $snaps)" "$before" "the snapshots after a remount rw of from= binds"
	printf 'FROM busybox:1\nRUN test ! -e /poison && ! grep -q pwned /etc/passwd\n' >"$c/Dockerfile"
	# shellcheck disable=SC2086
	kb $storage --no-cache -t clean:1 "$c"
}

dockerignore_binds() {
	c=$(ctx "ignore-$1")
	mkdir -p "$c/.git/refs" "$c/sub/deep" "$c/keep"
	echo TOKEN=x >"$c/.env"
	mkdir -p "$c/.svn/x" && echo s >"$c/.svn/x/entries"
	echo ref >"$c/.git/HEAD"
	echo cfg >"$c/.git/config"
	echo r >"$c/.git/refs/main"
	echo k >"$c/sub/secret.key"
	echo k >"$c/sub/deep/other.key"
	echo k >"$c/sub/deep/keep.key"
	echo f >"$c/sub/deep/file.txt"
	echo t >"$c/keep/tmp.log"
	echo t >"$c/keep/important.log"
	cat >"$c/.dockerignore" <<-'EOF'
	.env
	.svn
	.git
	!.git/HEAD
	**/*.key
	!sub/deep/keep.key
	keep/*.log
	!keep/important.log
	EOF
	cat >"$c/Dockerfile" <<-'EOF'
	FROM busybox:1
	COPY . /copied
	RUN --mount=type=bind,target=/ctx \
	    cd /ctx && find . | sort > /bind.txt && ls -a /ctx > /ls.txt && \
	    cd /copied && find . | sort > /copy.txt
	RUN --mount=type=bind,target=/ctx,rw cd /ctx && find . | sort > /bind-rw.txt
	RUN --mount=type=bind,source=sub,target=/sub cd /sub && find . | sort > /bind-sub.txt
	EOF
	# shellcheck disable=SC2086
	kb $storage -t ignore:1 "$c"
	r=$(unpack ignore:1)
	expect_eq "$(cat "$r/bind.txt")" "$(cat "$r/copy.txt")" "a context bind mount against COPY"
	expect_eq "$(cat "$r/bind-rw.txt")" "$(cat "$r/copy.txt")" "an rw context bind mount against COPY"
	! grep -qx '\.env\|\.svn' "$r/ls.txt" || fail "ls -a of the bind mount shows: $(cat "$r/ls.txt")"
	grep -qx './.git/HEAD' "$r/bind.txt" || fail "!.git/HEAD was not re-included: $(cat "$r/bind.txt")"
	grep -qx './sub/deep/keep.key' "$r/bind.txt" || fail "!sub/deep/keep.key: $(cat "$r/bind.txt")"
	! grep -q 'secret.key\|other.key\|config\|tmp.log\|refs' "$r/bind.txt" ||
		fail "an excluded path is in the bind mount: $(cat "$r/bind.txt")"
	expect_eq "$(cat "$r/bind-sub.txt")" "$(printf '.\n./deep\n./deep/file.txt\n./deep/keep.key')" \
		"a bind of a context subdirectory"
	# an ignored file is not part of the key either
	echo TOKEN=y >"$c/.env"
	# shellcheck disable=SC2086
	kb $storage -t ignore:2 "$c"
	[ -z "$(steps_run_lb | grep -e RUN -e COPY)" ] || fail "an ignored file's change reran: $(cat "$T/log")"
}

# the files holding $1: under $T (the store, the contexts) and directly in /tmp
on_disk_files() {
	{
		grep -rlaF -- "$1" "$T" 2>/dev/null
		find /tmp -maxdepth 1 -type f -exec grep -laF -- "$1" {} + 2>/dev/null
	} || true
}

secret_in_memory() {
	c=$(ctx "secret-$1")
	secret="s3cr3t-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
	# a single-id map (inherited) has no uid 1000
	ids=$(test "$1" = inherited && echo 0 0 || echo 1000 1001)
	marker="60 0.$$$(case $1 in root) echo 1 ;; builder) echo 2 ;; *) echo 3 ;; esac)"
	cat >"$c/Dockerfile" <<-EOF
	FROM busybox:1
	RUN --mount=type=secret,id=token stat -c '%a %u %g' /run/secrets/token > /mode && \
	    awk '\$2 == "/run/secrets/token" { print \$3 }' /proc/mounts > /fstype
	RUN --mount=type=secret,id=token,mode=0440,uid=${ids% *},gid=${ids#* },target=/s/t,env=TOKEN \
	    stat -c '%a %u %g' /s/t > /mode2 && test "\$(cat /s/t)" = "\$TOKEN"
	RUN --mount=type=secret,id=token cat /run/secrets/token > /dev/null && exec sleep $marker
	EOF
	own_ctx
	as_runner env KILN_TEST_SECRET="$secret" "$KILN" build --progress=plain -t secret:1 \
		--secret id=token,env=KILN_TEST_SECRET "$c" >"$T/out" 2>"$T/log" &
	bg=$!
	i=0
	until sleep_pid=$(pgrep -f "^sleep $marker\$"); do
		i=$((i + 1))
		[ $i -lt 400 ] || fail "the RUN did not start: $(cat "$T/log")"
		sleep 0.05
	done
	on_disk=$(on_disk_files "$secret")
	kiln_pid=
	for p in $(pgrep -x kiln); do
		[ "$(readlink "/proc/$p/exe")" = "$(readlink -f "$KILN")" ] &&
			[ "$(readlink "/proc/$p/cwd")" = "$T" ] && kiln_pid=$p
	done
	[ -n "$kiln_pid" ] || fail "no kiln process found for this test"
	kill -9 "$kiln_pid"
	wait "$bg" 2>/dev/null || true
	[ -z "$on_disk" ] || fail "the secret is on disk while the RUN runs: $on_disk"
	i=0
	while kill -0 "$sleep_pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "the RUN survived kill -9 of kiln"
		sleep 0.05
	done
	if [ -n "$(on_disk_files "$secret")" ]; then
		fail "the secret is on disk after kill -9 of kiln"
	fi
	sed -i '$d' "$c/Dockerfile"
	own_ctx
	as_runner env KILN_TEST_SECRET="$secret" "$KILN" build --progress=plain -t secret:2 \
		--secret id=token,env=KILN_TEST_SECRET "$c" >"$T/out" 2>"$T/log" ||
		fail "secret build: $(cat "$T/log")"
	r=$(unpack secret:2)
	expect_eq "$(cat "$r/mode")" "400 0 0" "a secret's default mode and owner"
	expect_eq "$(cat "$r/mode2")" "440 $ids" "a secret's mode=, uid=, gid="
	expect_eq "$(cat "$r/fstype")" tmpfs "the file system under a secret"
}

from_key() {
	c=$(ctx "fromkey-$1")
	echo one >"$c/data.txt"
	cat >"$c/Dockerfile" <<-'EOF'
	FROM busybox:1 AS src
	COPY data.txt /data.txt
	FROM busybox:1
	RUN --mount=type=bind,from=src,target=/s cat /s/data.txt > /out
	RUN --mount=type=bind,from=src,source=/data.txt,target=/d.txt cat /d.txt > /out2
	EOF
	kb -t fromkey:1 "$c"
	expect_eq "$(cat "$(unpack fromkey:1)/out")" one "a bind from= a stage"
	echo two >"$c/data.txt"
	kb -t fromkey:2 "$c"
	r=$(unpack fromkey:2)
	expect_eq "$(cat "$r/out")" two "a RUN after the from= stage changed"
	expect_eq "$(cat "$r/out2")" two "a RUN after the from= source file changed"
	kb -t fromkey:3 "$c"
	[ -z "$(steps_run_lb | grep RUN)" ] || fail "an unchanged from= source reran: $(cat "$T/log")"
}

# steps_run_lb: the steps that ran in $T/log (not CACHED)
steps_run_lb() {
	awk '/^#[0-9]+ \[/ {id=$1; sub(/^#[0-9]+ \[[^]]*\] /, ""); text[id]=$0}
	     /^#[0-9]+ DONE/ {print text[$1]}' "$T/log"
}

cache_seed() {
	c=$(ctx "seed-$1")
	cat >"$c/Dockerfile" <<-'EOF'
	FROM busybox:1 AS seed
	RUN mkdir -p /seed/sub && echo seeded > /seed/sub/f && echo top > /seed/t
	FROM busybox:1
	RUN --mount=type=cache,target=/c,from=seed,source=/seed \
	    cat /c/sub/f /c/t > /out && echo more >> /c/t
	RUN --mount=type=cache,target=/c,from=seed,source=/seed cat /c/t > /out2
	RUN --mount=type=cache,target=/c,from=seed cat /c/seed/sub/f > /out3
	EOF
	kb -t seed:1 "$c"
	r=$(unpack seed:1)
	expect_eq "$(cat "$r/out")" "$(printf 'seeded\ntop')" "a cache mount seeded from= a stage"
	expect_eq "$(cat "$r/out2")" "$(printf 'top\nmore')" "a seeded cache mount kept its writes"
	expect_eq "$(cat "$r/out3")" seeded "a cache mount seeded from= a stage's root"
	# a new seed is a new cache (BuildKit keys a cache by its id and its from= ref)
	sed -i 's/echo seeded >/echo reseeded >/' "$c/Dockerfile"
	kb -t seed:2 "$c"
	r=$(unpack seed:2)
	expect_eq "$(cat "$r/out")" "$(printf 'reseeded\ntop')" "a cache mount after its seed changed"
	# (the kill -9 above leaves its step.* and an empty secret.*, which the next store command sweeps)
	! ls "$KILN_ROOT/tmp" | grep -q '^cache-seed\.' ||
		fail "seeding left work in tmp/: $(ls -la "$KILN_ROOT/tmp")"
}

storage=
for mode in builder root inherited; do
	KILN_BUILD_AS=$mode
	export KILN_ROOT="$T/store-$mode"
	mkdir -p "$KILN_ROOT"
	[ $mode = root ] || [ $mode = inherited ] || chown "$KILN_TEST_USER": "$KILN_ROOT"
	build_setup
	for t in ${T0308_ONLY:-remount_attacks dockerignore_binds secret_in_memory from_key cache_seed}; do
		say "$mode: $t"
		$t $mode
	done
done

# --storage=copy (no overlay): binds are throwaway copies, .dockerignore applied
storage=--storage=copy
KILN_BUILD_AS=builder
export KILN_ROOT="$T/store-copy"
build_setup
for t in ${T0308_ONLY:-remount_attacks dockerignore_binds}; do
	case $t in remount_attacks | dockerignore_binds) ;; *) continue ;; esac
	say "builder, $storage: $t"
	$t copy
done
