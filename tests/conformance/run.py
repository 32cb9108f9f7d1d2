#!/usr/bin/env python3
"""Build the offline cases of the public conformance corpora with `kiln build`
and check each result against its expectation.

The corpora are read in place from $KILN_CONFORMANCE_DIR (never copied into the
repository); each case's context is copied to a scratch directory first because
the corpus is read-only. Base images: only busybox exists offline (the rootfs
made by testdata/make-busybox-rootfs.sh, imported under every busybox name the
cases use); a case that needs any other base image is counted as
skipped-offline. Builds run rootless as the test user when the harness runs as
root; results are checked with umoci (files) and skopeo (config).

Corpora and what is checked:
  buildah-conformance  cases.tsv: shouldFailAt (0 = must build, N = must fail
                       at instruction N, counted from 1 over the whole file)
  buildah-bud          the mechanical expectations of INDEX.md, written down in
                       bud_cases.py; a Dockerfile without one must build
  kaniko               the Dockerfiles INDEX.tsv marks offline must build

Exit status: 0 when every case listed in --expected passed, 1 otherwise.
"""

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bud_cases  # noqa: E402

CORPORA = ("buildah-conformance", "buildah-bud", "kaniko")
STATES = ("pass", "fail", "skipped-offline", "not-applicable")
BUSYBOX_NAMES = ("busybox", "busybox:latest", "mirror.gcr.io/busybox",
                 "docker.io/library/busybox", "docker.io/busybox")
BUILD_TIMEOUT = 300


class Case:
    """One build (or a short sequence of builds) and its expectation."""

    def __init__(self, corpus, name, context, dockerfile, **kw):
        self.corpus = corpus
        self.name = name
        self.context = context  # absolute, inside the corpus
        self.dockerfile = dockerfile  # absolute, inside the corpus
        self.build_args = kw.get("build_args", [])
        self.flags = kw.get("flags", [])
        self.fail_at = kw.get("fail_at", 0)  # instruction number, 0 = none
        self.must_fail = kw.get("must_fail", False)
        self.checks = kw.get("checks", [])
        self.prepare = kw.get("prepare")  # callable(context_copy)
        self.prebuild = kw.get("prebuild", [])  # [(dockerfile, tag, args)]
        self.http = kw.get("http", False)  # serve the context, --build-arg HTTP_SERVER_PORT
        self.state = kw.get("state")  # preset: skipped-offline / n/a
        self.reason = kw.get("reason", "")
        self.seconds = 0.0

    @property
    def key(self):
        return f"{self.corpus}/{self.name}"


# --- variable expansion and base-image classification ------------------------

VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand(word, env):
    """Expand $V, ${V}, ${V:-w}, ${V-w}, ${V:+w}, ${V+w} (enough for FROM)."""
    def sub(m):
        name = m.group(1) or m.group(4)
        op, alt = m.group(2), m.group(3)
        val = env.get(name)
        if op in (":-", "-"):
            unset = val is None or (op == ":-" and val == "")
            return expand(alt, env) if unset else val
        if op in (":+", "+"):
            isset = val is not None and (op == "+" or val != "")
            return expand(alt, env) if isset else ""
        return val or ""
    return VAR_RE.sub(sub, word).strip("\"'")


def arg_defaults(instructions, build_args):
    """ARG values: a build arg overrides only an ARG that is declared."""
    given = dict(a.partition("=")[::2] for a in build_args)
    env = {}
    for ins in instructions:
        if ins["kind"] == "ARG":
            for kv in ins.get("kvs", []):
                v = given.get(kv["key"], kv.get("value"))
                if v is not None:
                    env[kv["key"]] = expand(v, env)
    return env


def image_kind(ref, stage_names):
    """('stage'|'scratch'|'busybox'|'external', normalised name)."""
    low = ref.lower()
    if low in stage_names or low.isdigit():
        return "stage", low
    if low == "scratch":
        return "scratch", low
    if "@" in ref:
        return "external", ref
    name, tag = ref, "latest"
    if ":" in ref.rsplit("/", 1)[-1]:
        name, tag = ref.rsplit(":", 1)
    last = name.rsplit("/", 1)[-1]
    if last == "busybox" and not name.startswith("quay.io/"):
        return "busybox", f"{name}:{tag}"
    return "external", ref


def image_refs(parsed, build_args):
    """Every image a Dockerfile names: FROM, COPY --from, RUN --mount from=."""
    ins = parsed["instructions"]
    env = arg_defaults(ins, build_args)
    header = arg_defaults(ins[: parsed.get("meta_args", 0)], build_args)
    refs, names = [], set()
    for st in parsed["stages"]:
        refs.append((expand(st["base"] or "", header), set(names)))
        if st.get("name"):
            names.add(expand(st["name"], header).lower())
        for i in ins[st["first"]: st["first"] + st["count"]]:
            for f in i.get("flags", []):
                v = f.get("value") or ""
                m = re.search(r"(?:^|,)from=([^,]+)", v) if f.get("name") == "mount" else None
                ref = v if f.get("name") == "from" else (m.group(1) if m else "")
                if ref:
                    refs.append((expand(ref, env), names | {str(n) for n in range(99)}))
    return refs


def classify(case, kiln):
    """Fill case.state (skipped-offline) and return the busybox names it needs."""
    need = set()
    files = [case.dockerfile] + [os.path.join(case.context, p[0]) for p in case.prebuild]
    built_tags = {p[1] for p in case.prebuild}
    for df in files:
        r = subprocess.run([kiln, "parse", df], capture_output=True, text=True)
        if r.returncode != 0:
            continue  # the build itself will report it
        parsed = json.loads(r.stdout)
        for ref, names in image_refs(parsed, case.build_args):
            if "$" in ref or ref in built_tags:
                continue
            kind, norm = image_kind(ref, names)
            if kind == "busybox":
                need.add(norm)
            elif kind == "external" and not case.state:
                case.state = "skipped-offline"
                case.reason = f"needs base image {ref}"
    return need


# --- running kiln --------------------------------------------------------------

class Runner:
    def __init__(self, args):
        self.kiln = args.kiln
        self.work = args.workdir
        self.store = os.path.join(self.work, "store")
        self.user = args.user if os.getuid() == 0 else None
        self.rootless_unpack = os.getuid() != 0
        self.uid = subprocess.run(["id", "-u", self.user], capture_output=True,
                                  text=True).stdout.strip() if self.user else None
        self.n = 0

    def as_user(self, cmd, **kw):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "KILN_ROOT": self.store,
               "HOME": os.path.join(self.work, "home"), "LC_ALL": "C.UTF-8"}
        env.update(kw.pop("env", {}))
        if self.user:
            env["XDG_RUNTIME_DIR"] = f"/run/user/{self.uid}"
            cmd = ["runuser", "-u", self.user, "--", "env", "-i"] + \
                  [f"{k}={v}" for k, v in env.items()] + cmd
            return subprocess.run(cmd, capture_output=True, text=True, errors="replace", **kw)
        return subprocess.run(cmd, capture_output=True, text=True, errors="replace", env=env, **kw)

    def chown(self, path):
        if self.user:
            subprocess.run(["chown", "-R", f"{self.user}:", path], check=True)

    def setup(self, busybox_tar, names):
        os.makedirs(os.path.join(self.work, "home"), exist_ok=True)
        self.chown(self.work)
        r = self.as_user([self.kiln, "import", busybox_tar, "busybox:latest"])
        if r.returncode != 0:
            sys.exit(f"conformance: kiln import failed: {r.stderr}")
        for n in sorted(set(BUSYBOX_NAMES) | names):
            r = self.as_user([self.kiln, "tag", "busybox:latest", n])
            if r.returncode != 0:
                sys.exit(f"conformance: kiln tag {n} failed: {r.stderr}")

    def build(self, ctx, dockerfile, tag, args, flags, env=None):
        cmd = [self.kiln, "build", "--progress=json", "-f", dockerfile, "-t", tag]
        for a in args:
            cmd += ["--build-arg", a]
        cmd += flags + [ctx]
        try:
            return self.as_user(cmd, timeout=BUILD_TIMEOUT, env=env or {})
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(cmd, 124, "", f"timed out after {BUILD_TIMEOUT}s")


def load_symlinks(root):
    here = os.path.dirname(os.path.abspath(__file__))
    out = {}
    with open(os.path.join(here, "symlinks.txt"), encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                path, target = line.rstrip("\n").split("\t")
                out[os.path.join(root, path)] = target
    return out


SYMLINKS = {}


def restore_symlinks(src, dst):
    """Turn files that stand for a lost symlink back into the symlink."""
    for path, target in SYMLINKS.items():
        rel = os.path.relpath(path, src)
        copy = os.path.join(dst, rel)
        if rel.startswith("..") or os.path.islink(copy) or not os.path.isfile(copy):
            continue
        with open(copy, "rb") as f:
            if f.read() != target.encode():
                continue
        os.unlink(copy)
        os.symlink(target, copy)


def copy_context(src, dst):
    """Copy a context out of the read-only corpus with git-like modes."""
    shutil.copytree(src, dst, symlinks=True)
    restore_symlinks(src, dst)
    for root, dirs, files in os.walk(dst):
        for d in dirs:
            p = os.path.join(root, d)
            if not os.path.islink(p):
                os.chmod(p, 0o755)
        for f in files:
            p = os.path.join(root, f)
            if not os.path.islink(p):
                os.chmod(p, 0o755 if os.stat(p).st_mode & 0o111 else 0o644)
    os.chmod(dst, 0o755)


def events(res):
    out = []
    for line in (res.stdout + "\n" + res.stderr).splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def failed_instruction(res, parsed):
    """The 1-based instruction number at which a build failed, or 0."""
    for e in events(res):
        if e.get("event") == "step" and e.get("state") == "failed":
            st = parsed["stages"][e["stage"]] if e.get("stage", -1) < len(parsed["stages"]) else None
            if st is not None:
                return st["first"] + e["index"]
    m = re.search(r":(\d+):\d+: ", res.stderr)
    if m:
        line = int(m.group(1))
        for n, ins in enumerate(parsed["instructions"], 1):
            if ins["line"] <= line <= ins["end_line"]:
                return n
    return -1


def run_output(res):
    return "".join(e.get("data", "") for e in events(res) if e.get("event") == "output")


def last_error(res):
    lines = [ln for ln in res.stderr.splitlines() if not ln.startswith("{")]
    return (lines[-1] if lines else f"exit {res.returncode}")[:300]


# --- checks on a built image -------------------------------------------------

class Image:
    def __init__(self, runner, tag, casedir):
        self.r, self.tag, self.dir = runner, tag, casedir
        self._root = self._cfg = None

    def rootfs(self):
        if self._root is None:
            bundle = os.path.join(self.dir, "bundle")
            cmd = ["umoci", "unpack"] + (["--rootless"] if self.r.rootless_unpack else []) + \
                  ["--image", f"{self.r.store}:{self.tag}", bundle]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                raise CheckError(f"umoci unpack: {p.stderr.strip()[-200:]}")
            self._root = os.path.join(bundle, "rootfs")
        return self._root

    def config(self):
        if self._cfg is None:
            p = subprocess.run(["skopeo", "inspect", "--config", f"oci:{self.r.store}:{self.tag}"],
                               capture_output=True, text=True)
            if p.returncode != 0:
                raise CheckError(f"skopeo inspect: {p.stderr.strip()[-200:]}")
            self._cfg = json.loads(p.stdout)
        return self._cfg

    def path(self, p):
        return os.path.join(self.rootfs(), p.lstrip("/"))


class CheckError(Exception):
    pass


def jpath(doc, path):
    for part in path.split("."):
        if isinstance(doc, list):
            doc = doc[int(part)]
        elif isinstance(doc, dict):
            doc = doc.get(part)
        else:
            return None
    return doc


def check_file(img, p, want):
    got = open(img.path(p), "rb").read().decode(errors="replace")
    return got.rstrip("\n") == want.rstrip("\n"), repr(got[:80])


def check_list(img, p, want):
    base = img.path(p)
    got = []
    for root, dirs, files in os.walk(base):
        for n in dirs + files:
            got.append(os.path.relpath(os.path.join(root, n), base))
    got.sort()
    return got == sorted(want), ",".join(got)[:200]


CHECKS = {
    "file": lambda img, res, a: check_file(img, a[0], a[1]),
    "exists": lambda img, res, a: (os.path.lexists(img.path(a[0])), "absent"),
    "absent": lambda img, res, a: (not os.path.lexists(img.path(a[0])), "present"),
    "mode": lambda img, res, a: (lambda m: (m == a[1], m))(
        "%04o" % (os.lstat(img.path(a[0])).st_mode & 0o7777)),
    "owner": lambda img, res, a: (lambda s: (s == a[1], s))(
        "%d:%d" % (os.lstat(img.path(a[0])).st_uid, os.lstat(img.path(a[0])).st_gid)),
    "link": lambda img, res, a: (lambda t: (t == a[1], t))(os.readlink(img.path(a[0]))),
    "nlink": lambda img, res, a: (lambda n: (n == a[1], n))(str(os.lstat(img.path(a[0])).st_nlink)),
    "list": lambda img, res, a: check_list(img, a[0], a[1]),
    "cfg": lambda img, res, a: (lambda v: (v == a[1], v))(
        json.dumps(jpath(img.config(), a[0]), separators=(",", ":"))),
    "out": lambda img, res, a: (a[0] in run_output(res), run_output(res)[-200:]),
    "notout": lambda img, res, a: (a[0] not in run_output(res), "present"),
    "err": lambda img, res, a: (a[0] in res.stderr, last_error(res)),
    "cfgin": lambda img, res, a: (lambda v: (a[1] in (v or []), v))(jpath(img.config(), a[0])),
    "rebuild": lambda img, res, a: (True, ""),  # done by check_rebuild()
    "rebuild-same-id": lambda img, res, a: (True, ""),
}


def run_checks(case, img, res):
    for c in case.checks:
        kind, a = c[0], c[1:]
        try:
            ok, got = CHECKS[kind](img, res, a)
        except (OSError, CheckError, ValueError, IndexError) as e:
            ok, got = False, str(e)[:200]
        if not ok:
            return f"check {kind} {' '.join(str(x) for x in a)[:120]}: got {got}"
    return None


# --- one case ----------------------------------------------------------------

def run_case(runner, case):
    runner.n += 1
    casedir = os.path.join(runner.work, f"c{runner.n:03d}")
    ctx = os.path.join(casedir, "context")
    os.makedirs(casedir)
    copy_context(case.context, ctx)
    if case.prepare:
        case.prepare(ctx)
    rel = os.path.relpath(case.dockerfile, case.context)
    df = os.path.join(ctx, rel) if not rel.startswith("..") else case.dockerfile
    runner.chown(casedir)
    for pdf, ptag, pargs in case.prebuild:
        res = runner.build(ctx, os.path.join(ctx, pdf), ptag, pargs, [])
        if res.returncode != 0:
            return "fail", f"prebuild {pdf}: {last_error(res)}"
    tag = f"conf{runner.n:03d}:latest"
    server = None
    if case.http:
        server = serve(ctx)
        case.build_args = case.build_args + [f"HTTP_SERVER_PORT={server.server_address[1]}"]
    try:
        return build_and_check(runner, case, casedir, ctx, df, tag)
    finally:
        if server:
            server.shutdown()
            server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory):
    """A local HTTP server for the "local-http" cases, on a free port."""
    handler = functools.partial(QuietHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def build_and_check(runner, case, casedir, ctx, df, tag):
    env = {}
    for a in case.build_args:
        if "=" not in a:
            env[a] = os.environ.get(a, "")
    res = runner.build(ctx, df, tag, case.build_args, case.flags, env)
    parsed = json.loads(subprocess.run([runner.kiln, "parse", df], capture_output=True,
                                       text=True).stdout or '{"stages":[],"instructions":[]}')
    if case.fail_at:
        if res.returncode == 0:
            return "fail", f"built, but must fail at instruction {case.fail_at}"
        at = failed_instruction(res, parsed)
        if at != case.fail_at:
            return "fail", f"failed at instruction {at}, expected {case.fail_at}: {last_error(res)}"
        return "pass", ""
    if case.must_fail:
        if res.returncode == 0:
            return "fail", "built, but must fail"
        bad = run_checks(case, None, res)
        return ("fail", bad) if bad else ("pass", "")
    if res.returncode != 0:
        return "fail", last_error(res)
    bad = run_checks(case, Image(runner, tag, casedir), res)
    for strict in (False, True):
        if not bad and ("rebuild-same-id" if strict else "rebuild",) in case.checks:
            bad = check_rebuild(runner, case, ctx, df, res, env, strict)
    return ("fail", bad) if bad else ("pass", "")


def image_id(res):
    ids = re.findall(r"^sha256:[0-9a-f]{64}$", res.stdout, re.M)
    return ids[-1] if ids else None


def check_rebuild(runner, case, ctx, df, first, env, strict):
    """A second identical build takes every step from the cache and gives the same
    layers; @strict: also the same image ID (Docker, buildah --layers)."""
    tag = f"conf{runner.n:03d}{'s' if strict else 'b'}:latest"
    if strict:
        time.sleep(1.1)  # config times have a resolution of one second
    res = runner.build(ctx, df, tag, case.build_args, case.flags, env)
    if res.returncode != 0:
        return f"rebuild failed: {last_error(res)}"
    ran = [e["text"] for e in events(res) if e.get("event") == "step" and
           e.get("state") == "done" and e.get("text", "").startswith(("RUN", "COPY", "ADD"))]
    if ran:
        return f"rebuild ran {ran[0]!r} again instead of using the cache"
    layers = [Image(runner, t, None).config().get("rootfs")
              for t in (f"conf{runner.n:03d}:latest", tag)]
    if layers[0] != layers[1]:
        return "rebuild gave other layers"
    if strict and image_id(res) != image_id(first):
        return f"rebuild gave image {image_id(res)}, not {image_id(first)} (same layers)"
    return None


# --- corpora -----------------------------------------------------------------

def load_buildah_conformance(root):
    base = os.path.join(root, "buildah-conformance")
    cases = []
    for line in open(os.path.join(base, "cases.tsv"), encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        f = (line.rstrip("\n").split("\t") + [""] * 8)[:8]
        name, cdir, df, fail_at, _builder, bargs, _skip, notes = f
        ctx = os.path.join(base, "testdata", cdir)
        c = Case("buildah-conformance", name.replace(" ", "-"), ctx, os.path.join(ctx, df),
                 fail_at=int(fail_at), build_args=bargs.split())
        if "needs-internet" in notes:
            c.state, c.reason = "skipped-offline", "needs the internet (" + notes + ")"
        elif "transient-mounts" in notes:
            c.state, c.reason = "not-applicable", "buildah-only flag (transient mounts, -v)"
        if c.name in BUILDKIT_FAIL_AT:  # docker_builder "classic" there; kiln follows BuildKit
            c.fail_at = BUILDKIT_FAIL_AT[c.name]
        hook = CONFORMANCE_PREPARE.get(c.name)
        if hook:
            c.prepare = hook
        cases.append(c)
    return cases


# Cases whose expectation (the classic builder's) BuildKit does not share: kiln
# fails where BuildKit fails. replace/symlink-with-directory: the second COPY puts
# a directory onto a symlink or a file onto a directory, which fsutil's copy refuses
# ("cannot copy to non-directory", "cannot replace to directory ... with file").
BUILDKIT_FAIL_AT = {
    "replace-symlink-with-directory": 3,
    "replace-directory-with-symlink": 3,
    "replace-symlink-with-directory-subdir": 3,
    "replace-directory-with-symlink-subdir": 3,
}


def prep_copy_escape_glob(ctx):
    # upstream creates the names with glob characters at run time (they
    # cannot live in git on every platform): n?pe and st*uv next to the others
    app = os.path.join(ctx, "app")
    shutil.copytree(os.path.join(app, "nope"), os.path.join(app, "n?pe"))
    shutil.copytree(os.path.join(app, "strauv"), os.path.join(app, "st*uv"))


def prep_true(ctx):
    # upstream compiles true.go into `true`; a static busybox called `true`
    # runs its true applet, also in a scratch image
    dst = os.path.join(ctx, "true")
    shutil.copy("/bin/busybox", dst)
    os.chmod(dst, 0o755)


CONFORMANCE_PREPARE = {"copy-escape-glob": prep_copy_escape_glob, "mount-targets-new": prep_true,
                       "mount-targets-old": prep_true, "mount-targets-mount": prep_true}


def load_kaniko(root):
    base = os.path.join(root, "kaniko")
    cases = []
    for line in open(os.path.join(base, "INDEX.tsv"), encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        f = (line.rstrip("\n").split("\t") + [""] * 6)[:6]
        path, use, bargs, extra, offline, _what = f
        ctx = base
        if path.startswith("dockerfiles-with-context/"):
            ctx = os.path.join(base, path)
            df = os.path.join(ctx, "Dockerfile")
        else:
            df = os.path.join(base, path)
        if path.endswith("Dockerfile_relative_copy"):
            ctx = os.path.join(base, "context")
        flags = [x for x in extra.split() if x.startswith("--target")]
        c = Case("kaniko", os.path.basename(path), ctx, df, build_args=kaniko_args(bargs),
                 flags=["--target", flags[0].split("=", 1)[1]] if flags else [])
        if path.endswith(".dockerignore"):
            c.state, c.reason = "not-applicable", "data file (an ignore file), not a Dockerfile"
        elif not offline.startswith("yes"):
            c.state, c.reason = "skipped-offline", offline
        elif "top1" in offline:
            c.prepare = prep_kaniko_2075
        if use.startswith("cache test"):
            c.checks = [("rebuild",)]  # "second build must reuse cached layers"
        cases.append(c)
    return cases


def kaniko_args(col):
    # "SSH_PRIVATE_KEY (value from env SSH_PRIVATE_KEY=ThEPriv4t3Key) SSH_PUBLIC_KEY=..."
    m = re.match(r"(\w+) \(value from env (\w+)=(\S+)\) (.*)", col)
    if m:
        os.environ[m.group(2)] = m.group(3)
        return [m.group(1)] + m.group(4).split()
    return col.split()


def prep_kaniko_2075(ctx):
    # the prebuilt `top1` binary was not copied; any executable will do
    dst = os.path.join(ctx, "top1")
    shutil.copy(shutil.which("true") or "/bin/true", dst)
    os.chmod(dst, 0o4755)


def load_buildah_bud(root):
    base = os.path.join(root, "buildah-bud", "bud")
    return bud_cases.cases(base, Case)


LOADERS = {"buildah-conformance": load_buildah_conformance, "buildah-bud": load_buildah_bud,
           "kaniko": load_kaniko}


# --- main ----------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--corpus", action="append", choices=CORPORA)
    ap.add_argument("--conformance-dir", default=os.environ.get("KILN_CONFORMANCE_DIR"))
    ap.add_argument("--busybox-tar", required=True)
    ap.add_argument("--workdir", required=True, help="scratch dir (readable by --user)")
    ap.add_argument("--user", default=os.environ.get("KILN_TEST_USER", "builder"))
    ap.add_argument("--results", help="write per-case results (TSV) here")
    ap.add_argument("--expected", help="file of corpus/case that must pass")
    ap.add_argument("--only", help="regular expression on corpus/case")
    a = ap.parse_args()

    SYMLINKS.update(load_symlinks(a.conformance_dir))
    cases = []
    for corpus in a.corpus or CORPORA:
        cases += LOADERS[corpus](a.conformance_dir)
    if a.only:
        cases = [c for c in cases if re.search(a.only, c.key)]

    runner = Runner(a)
    need = set()
    for c in cases:
        need |= classify(c, a.kiln)
    runner.setup(a.busybox_tar, need)

    t0 = time.monotonic()
    for c in cases:
        if c.state:
            continue
        t = time.monotonic()
        c.state, c.reason = run_case(runner, c)
        c.seconds = time.monotonic() - t
        print(f"{c.state:4s} {c.key} ({c.seconds:.1f}s){': ' + c.reason if c.reason else ''}",
              flush=True)
    report(cases, a, time.monotonic() - t0)
    return verdict(cases, a.expected)


def read_list(path):
    with open(path, encoding="utf-8") as f:
        return {ln.split("#", 1)[0].strip() for ln in f} - {""}


def report(cases, a, seconds):
    if a.results:
        with open(a.results, "w", encoding="utf-8") as f:
            f.write("# corpus/case\tresult\tseconds\treason\n")
            for c in cases:
                f.write(f"{c.key}\t{c.state}\t{c.seconds:.2f}\t{c.reason}\n")
    print(f"# conformance summary ({seconds:.0f}s of builds)")
    for corpus in CORPORA:
        mine = [c for c in cases if c.corpus == corpus]
        if not mine:
            continue
        counts = {s: sum(1 for c in mine if c.state == s) for s in STATES}
        print(f"# {corpus}: {counts['pass']} passed, {counts['fail']} failed, "
              f"{counts['skipped-offline']} skipped-offline, "
              f"{counts['not-applicable']} not-applicable (of {len(mine)})")


def verdict(cases, expected):
    if not expected:
        return 0
    want = read_list(expected)
    by_key = {c.key: c for c in cases}
    bad = [k for k in sorted(want) if k in by_key and by_key[k].state != "pass"]
    new = [c.key for c in cases if c.state == "pass" and c.key not in want]
    for k in bad:
        print(f"# REGRESSION: {k} is in {os.path.basename(expected)} but {by_key[k].state}: "
              f"{by_key[k].reason}")
    for k in new:
        print(f"# now passing, add to {os.path.basename(expected)}: {k}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
