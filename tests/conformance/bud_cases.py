"""The buildah-bud cases: every Dockerfile/Containerfile under bud/, with the
expectations of buildah-bud/INDEX.md that can be checked mechanically.

SPEC maps "dir/file" to a dict of Case keywords:
  build_args   ["K=V", ...]
  context      the context directory, relative to bud/<dir> (default: bud/<dir>)
  must_fail    True: the build must fail; checks then apply to its stderr
  checks       tuples, see run.py CHECKS: ("file", PATH, CONTENT), ("exists", PATH),
               ("absent", PATH), ("mode", PATH, "0755"), ("owner", PATH, "0:0"),
               ("link", PATH, TARGET), ("nlink", PATH, "4"), ("list", DIR, [names]),
               ("cfg", "config.Env", JSON), ("out", TEXT) = RUN output contains TEXT,
               ("err", TEXT) = stderr contains TEXT
  prebuild     [(dockerfile, tag, build_args)] built first in the same context
  na           a reason: not applicable to a builder other than buildah
A Dockerfile with no entry must build (INDEX.md's "should build" smoke test).
The expectations are summarised from INDEX.md; where a case depends on an image
other than busybox it is skipped-offline by the harness before any of this applies.
"""

import os

# INDEX.md: "pass --build-arg SAFEIMAGE=<your small image>"
DEFAULT_ARGS = ["SAFEIMAGE=busybox"]

NAME_PREFIXES = ("Dockerfile", "Containerfile", "Dockermultistagefrom")

BUSYBOX_PATH = ("cfg", "config.Env", '["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]')

MIXED = [("exists", "/Dockerfile.name"), ("exists", "/Dockerfile.index"),
         ("exists", "/Dockerfile.mixed"), ("absent", "/etc/passwd")]
HARDLINKS = [("nlink", "/test1", "4"), ("nlink", "/test2", "4"), ("nlink", "/subdir/test3", "4"),
             ("nlink", "/subdir/test4", "4")]

SPEC = {
    # -- arg-scope: exact file contents (INDEX.md) --
    "arg-scope/Containerfile.from-arg": {"build_args": ["BASE=busybox"],
                                         "checks": [("file", "/base.txt", "busybox")]},
    "arg-scope/Containerfile.stage-overrides-header": {"checks": [("file", "/foo.txt", "stage")]},
    # COPY --from=$ARG: buildah expands it, BuildKit refuses it (convert.go toCommand)
    "arg-scope/Containerfile.copy-from-arg": {"must_fail": True, "checks": [("err", "variable expansion is not supported for --from")]},
    "arg-scope/Containerfile.stage-overrides-header-copy-from": {
        "must_fail": True, "checks": [("err", "variable expansion is not supported for --from")]},
    "arg-scope/Containerfile.multiple-args-stage-overrides-one": {
        "checks": [("file", "/out.txt", "9 1")]},
    "arg-scope/Containerfile.multiple-args-stage-only": {"checks": [("file", "/out.txt", "1 2")]},
    "arg-scope/Containerfile.multiple-args-one-step": {
        "build_args": ["foo=99", "bar=88"], "checks": [("file", "/out.txt", "99 88")]},
    "arg-scope/Containerfile.arg-mixed-defaults": {
        "build_args": ["a=given"], "checks": [("file", "/out.txt", "given set")]},
    # -- add-file --
    "add-file/Dockerfile": {"checks": [("exists", "/var/file2"), ("exists", "/var/www/file"),
                                       ("cfg", "config.Volumes", '{"/var":{},"/var/www":{}}')]},
    # -- build-arg --
    "build-arg/Dockerfile": {"build_args": ["foo=bar"], "checks": [("out", "bar")]},
    "build-arg/Dockerfile2": {"build_args": ["IMAGE=busybox"]},
    # -- capabilities: USER 3267, RUN id --
    "capabilities/Dockerfile": {"checks": [("out", "uid=3267")]},
    # -- copy-from --
    "copy-from/Dockerfile.bad": {"must_fail": True, "checks": [("err", "--from")]},
    "copy-from/Dockerfile2.bad": {"must_fail": True, "checks": [("err", "build")]},
    # -- copy-from-stage-scoped-arg --
    # (INDEX.md's results are buildah's: it expands COPY --from; BuildKit refuses it)
    "copy-from-stage-scoped-arg/Containerfile": {"must_fail": True, "checks": [("err", "variable expansion is not supported for --from")]},
    "copy-from-stage-scoped-arg/Containerfile.multi-copy-arg-override": {
        "must_fail": True, "checks": [("err", "variable expansion is not supported for --from")]},
    # -- copy-globs --
    # COPY *.txt /testdir (no '/', nothing there): each match in turn replaces the
    # file /testdir, so it holds the last (BuildKit's fsutil Copy, as buildah)
    "copy-globs/Containerfile": {"checks": [("file", "/testdir", "")]},
    "copy-globs/Containerfile.missing": {"checks": [("file", "/testdir", "")]},
    # buildah fails on a wildcard matching nothing; kiln copies nothing, as BuildKit
    # (AllowEmptyWildcard, moby/buildkit dockerfile2llb/convert_copy.go)
    "copy-globs/Containerfile.bad": {"checks": [("absent", "/testdir")]},
    # -- dest-final-slash: RUN /test/ls in a scratch image --
    "dest-final-slash/Dockerfile": {"checks": [("exists", "/test/ls"), ("exists", "/bin/sh")]},
    # -- dockerignore2: symlinks copied as symlinks (the test adds them) --
    "dockerignore2/Dockerfile": {"prepare": "dockerignore2", "checks": [
        ("list", "/", [".dockerignore", "Dockerfile", "subdir", "subdir/circular-link",
                       "subdir/dangling-link", "subdir/sub1.txt", "subdir/subsubdir",
                       "subdir/subsubdir/subsub1.txt", "symlink"]),
        ("link", "/symlink", "subdir"), ("link", "/subdir/dangling-link", "no-such-file")]},
    # -- dockerignore3/4: the third COPY fails, the ignored file is named --
    "dockerignore3/Dockerfile": {"must_fail": True, "checks": [("err", "test1.txt")]},
    "dockerignore4/Dockerfile.test": {"must_fail": True, "checks": [("err", "test1.txt")]},
    # -- dupe-arg-env-name --
    "dupe-arg-env-name/Containerfile": {"checks": [("out", "https://example.org/bar")]},
    # -- from-scratch: no layers, empty env --
    "from-scratch/Containerfile": {"checks": [("cfg", "rootfs.diff_ids", "[]")]},
    "from-scratch/Dockerfile": {"checks": [("cfg", "rootfs.diff_ids", "[]")]},
    "from-scratch/Containerfile2": {"checks": [("cfg", "rootfs.diff_ids", "[]"),
                                               ("cfg", "config.User", '"1001"')]},
    # -- leading-args: header FOO not visible without redeclaration --
    "leading-args/Dockerfile": {"checks": [("cfgin", "config.Env", "FOO=")]},
    # -- multi-stage-builds --
    "multi-stage-builds/Dockerfile.arg_in_copy": {  # COPY --from=stage_${my_env}, as above
        "must_fail": True, "checks": [("err", "variable expansion is not supported for --from")]},
    "multi-stage-builds/Dockerfile.reused": {"checks": [("exists", "/bin/busybox")]},
    "multi-stage-builds/Dockerfile.mixed": {"checks": MIXED},
    "multi-stage-builds-small-as/Dockerfile.mixed": {"checks": MIXED},
    "multi-stage-builds/Dockerfile.extended": {"checks": [
        ("exists", "/tmp/preCommit"), ("absent", "/tmp/postCommit"),
        ("cfgin", "config.Env", "BUILD_LOGLEVEL=5"),
        ("cfgin", "config.Env", "OPENSHIFT_BUILD_NAMESPACE=default"),
        ("cfg", "config.Labels.io.openshift.build.name", "null")]},
    # -- layer cache: a second identical build is the same image --
    "addtl-tags/Dockerfile": {"checks": [("rebuild",), ("rebuild-same-id",)]},
    "build-arg/Dockerfile3": {"checks": [("rebuild",), ("rebuild-same-id",)]},
    # -- hard links: the test links test1..test4 (harness: prepare "hardlinks") --
    "hardlink/Dockerfile": {"prepare": "hardlinks", "checks": HARDLINKS},
    "layers-squash/Dockerfile.hardlinks": {"checks": [("nlink", "/subdir/artifact", "2")]},
    # -- heredocs: <<- strips leading tabs, << keeps them --
    "heredoc/Containerfile.bash_file": {"checks": [
        ("file", "/test9.txt", "\n\tthis is the output of test9"),
        ("file", "/test10.txt", "\nthis is the output of test10")]},
    "buildkit-mount-from/Dockerfilebuildkitbase": {"checks": [
        ("exists", "/hello"), ("exists", "/hello1"), ("exists", "/subdir/hello")]},
    # -- recurse: the harness adds the .dockerignore of the test, and the hard links --
    "recurse/Dockerfile": {"checks": HARDLINKS},
    # -- run-scenarios --
    "run-scenarios/Dockerfile.entrypoint-run": {"checks": [("out", "unique.test.string")]},
    "run-scenarios/Dockerfile.cmd-run": {"checks": [("out", "unique.test.string")]},
    "run-scenarios/Dockerfile.entrypoint-cmd-run": {"checks": [("out", "unique.test.string")]},
    "run-scenarios/Dockerfile.args": {"checks": [("out", "arg_value")]},
    "run-scenarios/Dockerfile.multi-args": {
        "build_args": ["USED_ARG=plugin1,plugin2,plugin3"],
        "checks": [("out", "plugin1,plugin2,plugin3")]},
    # -- symlink --
    "symlink/Dockerfile.replace-symlink": {},
    # -- terminal: RUN ! tty --
    "terminal/Dockerfile": {},
    # -- unrecognized --
    "unrecognized/Dockerfile": {"must_fail": True, "checks": [("err", "BOGUS")]},
    # -- flags without '=' and other parse-time rejections (base image not needed) --
    "add-chmod/Dockerfile.bad": {"must_fail": True, "checks": [("err", "--chmod")]},
    "add-chown/Dockerfile.bad": {"must_fail": True, "checks": [("err", "--chown")]},
    "copy-chmod/Dockerfile.bad": {"must_fail": True, "checks": [("err", "--chmod")]},
    "copy-chown/Dockerfile.bad": {"must_fail": True, "checks": [("err", "--chown")]},
    "copy-multistage-paths/Dockerfile.invalid_from": {"must_fail": True,
                                                      "checks": [("err", "--from")]},
    "inline-network/Dockerfile3": {"must_fail": True, "checks": [("err", "fake")]},
    "run-scenarios/Dockerfile.cmd-empty-run": {"must_fail": True},
    "run-scenarios/Dockerfile.entrypoint-empty-run": {"must_fail": True},
    "run-scenarios/Dockerfile.entrypoint-cmd-empty-run": {"must_fail": True},
    # -- local HTTP server (the harness serves the context copy) --
    "cache-chown/Dockerfile.url1": {"http": True, "prepare": "readme",
                                    "checks": [("owner", "/README.md", "1:1")]},
    "cache-chown/Dockerfile.url2": {"http": True, "prepare": "readme",
                                    "checks": [("owner", "/README.md", "2:2")]},
    # RUN fetches from the host's 127.0.0.1: buildah's test builds it with --network=host
    "run-privd/Dockerfile": {"http": True, "flags": ["--network=host"]},
    # -- cache-chown: --chown applies to files, not to extracted archives --
    "cache-chown/Dockerfile.add1": {"checks": [("owner", "/testfile", "1:1")]},
    "cache-chown/Dockerfile.add2": {"checks": [("owner", "/testfile", "2:2")]},
    "cache-chown/Dockerfile.copy1": {"checks": [("owner", "/testfile", "1:1")]},
    "cache-chown/Dockerfile.copy2": {"checks": [("owner", "/testfile", "2:2")]},
    # -- multiarch: a foreign-arch busybox does not exist offline --
    "multiarch/Containerfile.reset-platform": {
        "offline": "needs busybox for a foreign architecture (FROM --platform)"},
    # -- $SAFEIMAGE (busybox here, see DEFAULT_ARGS) --
    "copy-chown/Containerfile.chown_user": {
        "offline": "runs adduser, which Debian's busybox-static (the test base) lacks"},
    "multiarch/Dockerfile.fail-multistage": {
        "offline": "reads /etc/os-release of upstream's SAFEIMAGE (quay.io/libpod/testimage)"},
    # -- from-with-arg: upstream uses base=alpine; busybox exercises the same ARGs --
    # (its COPY --from=${toolchainname} is refused by BuildKit, as here)
    "from-with-arg/Containerfile": {
        "build_args": ["base=busybox", "toolchainname=busybox", "destinationpath=/tmp/"],
        "must_fail": True, "checks": [("err", "variable expansion is not supported for --from")]},
    # -- exit42 --
    "exit42/Containerfile": {"must_fail": True, "checks": [("err", "42")]},
    # -- buildah-only --
    "containerfile/Containerfile.in": {"na": "C preprocessor input (buildah-only .in files)"},
    "preprocess/Decomposed.in": {"na": "C preprocessor input (buildah-only .in files)"},
    "preprocess/Error.in": {"na": "C preprocessor input (buildah-only .in files)"},
}

# Files that are not whole Dockerfiles, or need what the harness cannot give.
NOT_APPLICABLE = {
    "from-multiple-files/Dockerfile2.nofrom": "a fragment concatenated after another -f file",
    "from-multiple-files/Dockerfile2.withfrom": "a fragment concatenated after another -f file",
    "from-multiple-files/Dockerfile2.glob": "a fragment concatenated after another -f file",
    "cdi/Dockerfile": "buildah-only: Container Device Interface",
    "copy-archive/Containerfile": "the test generates test.tar.xz (not shipped)",
}


def prep_dockerignore2(ctx):
    os.symlink("subdir", os.path.join(ctx, "symlink"))
    os.symlink("circular-link", os.path.join(ctx, "subdir", "circular-link"))
    os.symlink("no-such-file", os.path.join(ctx, "subdir", "dangling-link"))


def prep_readme(ctx):
    with open(os.path.join(ctx, "README.md"), "w", encoding="utf-8") as f:
        f.write("served by the conformance harness\n")


def prep_hardlinks(ctx):
    os.makedirs(os.path.join(ctx, "subdir"), exist_ok=True)
    first = os.path.join(ctx, "test1")
    with open(first, "w", encoding="utf-8") as f:
        f.write("linked\n")
    for other in ("test2", "subdir/test3", "subdir/test4"):
        os.link(first, os.path.join(ctx, other))


def prep_recurse(ctx):
    with open(os.path.join(ctx, ".dockerignore"), "w", encoding="utf-8") as f:
        f.write("foo\n")
    prep_hardlinks(ctx)


PREPARE = {"dockerignore2": prep_dockerignore2, "recurse": prep_recurse, "readme": prep_readme,
           "hardlinks": prep_hardlinks}


def dockerfiles(base):
    for root, dirs, files in os.walk(base):
        dirs.sort()
        for f in sorted(files):
            top_in = f.endswith(".in") and root.count(os.sep) - base.count(os.sep) == 1
            if f.startswith(NAME_PREFIXES) or top_in:
                if f.endswith(("ignore", ".yaml")):
                    continue
                yield os.path.relpath(os.path.join(root, f), base)


def cases(base, Case):
    out = []
    for rel in dockerfiles(base):
        top = rel.split("/", 1)[0]
        ctx = os.path.join(base, top)
        if top == "commit":
            ctx = os.path.join(base, os.path.dirname(rel))
        spec = dict(SPEC.get(rel, {}))
        if "context" in spec:
            ctx = os.path.join(base, top, spec.pop("context"))
        prep = spec.pop("prepare", None)
        na = spec.pop("na", None) or NOT_APPLICABLE.get(rel)
        offline = spec.pop("offline", None)
        if top == "recurse":
            prep = "recurse"
        spec["build_args"] = DEFAULT_ARGS + spec.get("build_args", [])
        c = Case("buildah-bud", rel, ctx, os.path.join(base, rel), **spec)
        if prep:
            c.prepare = PREPARE[prep]
        if na:
            c.state, c.reason = "not-applicable", na
        elif offline:
            c.state, c.reason = "skipped-offline", offline
        out.append(c)
    return out
