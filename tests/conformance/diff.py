#!/usr/bin/env python3
"""Build every offline case of the conformance corpora with kiln and with buildah,
on the same base image, and compare the results: the outcome (both build or
both fail), the root filesystem (path, type, mode, uid, gid, size, content
digest, symlink target, device, xattrs, hardlink groups) and the config (Env,
Cmd, Entrypoint, User, WorkingDir, ExposedPorts, Volumes, Labels, StopSignal,
Healthcheck, OnBuild, Shell).

Where buildah is known to deviate from BuildKit, the reviewed table
tests/conformance/deviations.md says what BuildKit does; kiln is compared
against that instead. The same table lists each normalisation this script
applies. Exit status 1 on any unexplained difference or stale table entry.

The cases, their contexts and base images are run.py's (the same loaders,
offline classification and context preparation). Both builders run rootless
as --user when this runs as root: kiln with its store in WORKDIR/store (an OCI
layout, read in place), buildah with an overlay store in WORKDIR/buildah and
its images pushed to the OCI layout WORKDIR/buildah-oci.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oci  # noqa: E402
import run  # noqa: E402

CONFIG_FIELDS = ("Env", "Cmd", "Entrypoint", "User", "WorkingDir", "ExposedPorts", "Volumes",
                 "Labels", "StopSignal", "Healthcheck", "OnBuild", "Shell")
FS_ATTRS = ("type", "mode", "uid", "gid", "size", "sha256", "target", "device", "xattrs",
            "links")
BUILDAH_LABELS = ("io.buildah.version",)
DEVIATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deviations.md")

# Every normalisation, by the name deviations.md gives it (the test checks that
# the two lists agree).
NORMALISATIONS = ("timestamps", "history", "buildah-labels", "empty-config-values",
                  "layer-boundaries", "rootless-overlay-xattrs")


# --- buildah --------------------------------------------------------------------

class Buildah:
    """buildah 1.28 with a private overlay store: as root when this runs as root
    (rootless, its overlay leaks user.overlay.* xattrs into layers), else as
    the current user."""

    def __init__(self, runner):
        self.r = runner
        self.rootless = os.getuid() != 0
        self.root = os.path.join(runner.work, "buildah", "root")
        self.runroot = os.path.join(runner.work, "buildah", "run")
        self.layout = os.path.join(runner.work, "buildah-oci")
        self.storage = f"containers-storage:[overlay@{self.root}+{self.runroot}]"

    def cmd(self, *args, timeout=run.BUILD_TIMEOUT, env=None):
        argv = ["buildah", "--root", self.root, "--runroot", self.runroot,
                "--storage-driver", "overlay"] + list(args)
        try:
            if not self.rootless:
                return subprocess.run(argv, capture_output=True, text=True, errors="replace",
                                      timeout=timeout, env=dict(os.environ, **(env or {})))
            return self.r.as_user(argv, timeout=timeout, env=env or {})
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, 124, "", f"timed out after {timeout}s")

    def setup(self, names):
        """The busybox image kiln imported, copied as it is into buildah's store."""
        src = f"oci:{self.r.store}:busybox:latest"
        argv = ["skopeo", "copy", "-q", src, self.storage + "docker.io/library/busybox:latest"]
        r = self.r.as_user(argv) if self.rootless else subprocess.run(argv, capture_output=True,
                                                                      text=True)
        if r.returncode != 0:
            sys.exit(f"diff: skopeo copy into buildah's store failed: {r.stderr}")
        for n in sorted(set(run.BUSYBOX_NAMES) | names):
            full = n if ":" in n.rsplit("/", 1)[-1] else n + ":latest"
            if "/" not in full.split(":")[0]:
                full = "docker.io/library/" + full
            elif full.split("/")[0] == "docker.io" and full.count("/") == 1:
                full = full.replace("docker.io/", "docker.io/library/", 1)
            if full == "docker.io/library/busybox:latest":
                continue
            r = self.cmd("tag", "docker.io/library/busybox:latest", full)
            if r.returncode != 0:
                sys.exit(f"diff: buildah tag {full} failed: {r.stderr}")

    def build(self, ctx, dockerfile, tag, args, flags, env=None, network="none"):
        # --format docker: the OCI format drops HEALTHCHECK, ONBUILD and SHELL,
        # which BuildKit keeps; without --layers: one layer for the whole build
        # (the rootfs is compared flattened, see layer-boundaries)
        argv = ["build", "--format", "docker", "--pull=never", "--isolation", "oci",
                "--runtime", "runc", "--network", network, "-f", dockerfile, "-t", tag]
        for a in args:
            argv += ["--build-arg", a]
        return self.cmd(*(argv + flags + [ctx]), env=env)

    def cleanup(self):
        """Remove the working containers a failed build leaves mounted."""
        self.cmd("rm", "--all")
        self.cmd("umount", "--all")

    def image(self, tag):
        """(config, rootfs) of @tag: layers from a push to an OCI layout, the
        config from `buildah inspect` (a push to OCI drops the Docker fields)."""
        r = self.cmd("push", "-q", tag, f"oci:{self.layout}:{tag}")
        if r.returncode != 0:
            raise oci.LayoutError(f"buildah push: {r.stderr.strip()[-300:]}")
        r = self.cmd("inspect", "--type", "image", tag)
        if r.returncode != 0:
            raise oci.LayoutError(f"buildah inspect: {r.stderr.strip()[-300:]}")
        cfg = json.loads(r.stdout)["Docker"].get("config") or {}
        fs = oci.rootfs(self.layout, tag)
        if self.rootless:  # rootless-overlay-xattrs
            for e in fs.values():
                e["xattrs"] = {k: v for k, v in e["xattrs"].items()
                               if not k.startswith("user.overlay.")}
        return cfg, fs


def kiln_image(runner, tag):
    cfg = oci.config(runner.store, tag).get("config") or {}
    return cfg, oci.rootfs(runner.store, tag)


# --- comparing --------------------------------------------------------------------

def summary(e):
    s = f"{e['type']} {e['mode']} {e['uid']}:{e['gid']}"
    if e["type"] == "file":
        s += f" {e['size']}B sha256:{e['sha256'][:12]}"
    elif e["type"] == "symlink":
        s += f" -> {e['target']}"
    elif "device" in e:
        s += f" {e['device']}"
    return s


def fmt(v):
    if isinstance(v, str):
        return v
    if v is None:
        return "-"
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def fs_diffs(kfs, bfs):
    """{field: (kiln, buildah)}; below a path missing on one side, nothing more."""
    out, gone = {}, []
    for p in sorted(set(kfs) | set(bfs)):
        if any(p.startswith(g + "/") for g in gone):
            continue
        k, b = kfs.get(p), bfs.get(p)
        if p == "/" and (k is None or b is None):
            continue  # an image without layers, or a layer without "./"
        if k is None or b is None:
            out["fs:" + p] = (summary(k) if k else "absent", summary(b) if b else "absent")
            gone.append(p)
            continue
        if k["type"] != b["type"]:
            out["fs:" + p] = (summary(k), summary(b))
            gone.append(p)
            continue
        for a in FS_ATTRS:
            if k.get(a) != b.get(a) and not (a == "xattrs" and not k.get(a) and not b.get(a)):
                out[f"fs:{p}:{a}"] = (fmt(k.get(a)), fmt(b.get(a)))
    return out


def norm_config(cfg):
    """The compared fields, normalised (see NORMALISATIONS and deviations.md)."""
    out = {}
    for f in CONFIG_FIELDS:
        v = cfg.get(f)
        if f == "Labels" and v:
            v = {k: x for k, x in v.items() if k not in BUILDAH_LABELS}
        if v in (None, "", [], {}):
            v = None  # empty-config-values
        out[f] = v
    return out


def config_diffs(kcfg, bcfg):
    k, b = norm_config(kcfg), norm_config(bcfg)
    return {"config:" + f: (fmt(k[f]), fmt(b[f])) for f in CONFIG_FIELDS if k[f] != b[f]}


# --- the deviations table ------------------------------------------------------------

def read_table(path):
    """deviations.md: the rows of its "Normalisations" and "Deviations" tables,
    each a list of cells with the surrounding backticks removed."""
    tables, section = {"Normalisations": [], "Deviations": [], "Intended": []}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^## (\w+)", line)
            if m:
                section = m.group(1) if m.group(1) in tables else None
                continue
            if section and line.startswith("|") and not re.match(r"^\|\s*-", line):
                cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
                tables[section].append([unquote(c) for c in cells])
    for name in tables:
        tables[name] = tables[name][1:]  # the header row
    return tables


def unquote(cell):
    return cell[1:-1] if len(cell) >= 2 and cell[0] == cell[-1] == "`" else cell


def read_deviations(tables):
    return [Deviation(c, i) for i, c in enumerate(tables["Deviations"], 1)] + \
        [Deviation(c, i, intended=True) for i, c in enumerate(tables["Intended"], 1)]


class Deviation:
    """One row of the Deviations table. Its case, field and value cells are
    patterns: `*` matches any text, `{a,b}` either alternative."""

    def __init__(self, cells, lineno, intended=False):
        want = 5 if intended else 6
        if len(cells) != want:
            sys.exit(f"deviations.md: row {lineno}: expected {want} cells, got {len(cells)}: {cells}")
        if intended:  # case, field, kiln, buildah, why: kiln is held to its own value
            self.case, self.field, self.buildkit, self.buildah, self.reason = cells
            self.source = "README.md"
        else:
            self.case, self.field, self.buildah, self.buildkit, self.reason, self.source = cells
            if not self.source.startswith("https://"):
                sys.exit(f"deviations.md: row {lineno}: no link to BuildKit's source or docs")
        self.intended = intended
        self.row = lineno
        self.hits = 0
        self.re = {k: pattern(getattr(self, k)) for k in ("case", "field", "buildah", "buildkit")}

    def matches(self, attr, text):
        return self.re[attr].fullmatch(text) is not None

    def __str__(self):
        kind = "intended kiln difference" if self.intended else "row"
        return f"{kind} {self.row} ({self.case} {self.field})"


def pattern(p):
    out, i = [], 0
    while i < len(p):
        c = p[i]
        if c == "*":
            out.append(".*")
        elif c == "{" and "}" in p[i:]:
            j = p.index("}", i)
            out.append("(?:" + "|".join(re.escape(a) for a in p[i + 1:j].split(",")) + ")")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.S)


def explain(keys, diffs, deviations):
    """Split @diffs into explained and unexplained lines, with the table rows
    whose case matches one of @keys; count each row's hits (a row that never
    explains anything is stale)."""
    explained, bad = [], []
    keys = [keys] if isinstance(keys, str) else keys
    rows = [d for d in deviations if any(d.matches("case", k) for k in keys)]
    for field, (k, b) in sorted(diffs.items()):
        d = next((d for d in rows if d.matches("field", field) and d.matches("buildah", b)), None)
        if d is None:
            bad.append(f"{field}: kiln {k!r}, buildah {b!r}")
            continue
        d.hits += 1
        if d.matches("buildkit", k):
            how = "on purpose (README: Where kiln differs)" if d.intended else "as BuildKit"
            explained.append(f"{field}: kiln {k!r} {how}, buildah {b!r} (deviations.md {d})")
        else:
            want = "kiln should give" if d.intended else "BuildKit gives"
            bad.append(f"{field}: kiln {k!r}, but {want} {d.buildkit!r} (deviations.md "
                       f"{d}); buildah {b!r}")
    return explained, bad


# --- one case ----------------------------------------------------------------------

def from_scratch(kiln, dockerfile, build_args, flags):
    """Whether the stage built (the last, or --target) starts FROM scratch,
    following FROM <earlier stage>."""
    r = subprocess.run([kiln, "parse", dockerfile], capture_output=True, text=True)
    if r.returncode != 0:
        return False
    parsed = json.loads(r.stdout)
    stages = parsed["stages"]
    header = run.arg_defaults(parsed["instructions"][: parsed.get("meta_args", 0)], build_args)
    names = {run.expand(st["name"], header).lower(): i for i, st in enumerate(stages)
             if st.get("name")}
    i = len(stages) - 1
    if "--target" in flags:
        i = names.get(flags[flags.index("--target") + 1].lower(), i)
    for _ in range(len(stages)):
        base = run.expand(stages[i]["base"] or "", header).lower()
        if base == "scratch":
            return True
        j = names.get(base, int(base) if base.isdigit() else None)
        if j is None or j >= i:
            return False
        i = j
    return False


def outcome(res):
    return "built" if res.returncode == 0 else "failed"


def build_both(runner, bah, case, ctx, df, tag, env):
    k = runner.build(ctx, df, tag, case.build_args, case.flags, env)
    # the "local-http" cases reach the harness's server on 127.0.0.1 from RUN
    b = bah.build(ctx, df, tag, case.build_args, case.flags, env,
                  network="host" if case.http else "none")
    return k, b


def diff_case(runner, bah, case):
    """{field: (kiln, buildah)} for one case, and a note on each failed build."""
    runner.n += 1
    casedir = os.path.join(runner.work, f"c{runner.n:03d}")
    ctx = os.path.join(casedir, "context")
    os.makedirs(casedir)
    run.copy_context(case.context, ctx)
    if case.prepare:
        case.prepare(ctx)
    rel = os.path.relpath(case.dockerfile, case.context)
    df = os.path.join(ctx, rel) if not rel.startswith("..") else case.dockerfile
    runner.chown(casedir)
    for pdf, ptag, pargs in case.prebuild:
        k, b = build_both(runner, bah, run.Case("", "", ctx, "", build_args=pargs), ctx,
                          os.path.join(ctx, pdf), ptag, {})
        if outcome(k) != outcome(b):
            return {f"outcome:prebuild {pdf}": (outcome(k), outcome(b))}, notes(k, b)
    server = None
    args = list(case.build_args)
    if case.http:
        server = run.serve(ctx)
        args.append(f"HTTP_SERVER_PORT={server.server_address[1]}")
    env = {a: os.environ.get(a, "") for a in args if "=" not in a}
    tag = f"diff{runner.n:03d}:latest"
    try:
        c = run.Case(case.corpus, case.name, ctx, df, build_args=args, flags=case.flags,
                     http=case.http)
        k, b = build_both(runner, bah, c, ctx, df, tag, env)
    finally:
        if server:
            server.shutdown()
            server.server_close()
    if from_scratch(runner.kiln, df, args, case.flags):
        case.scratch = True
    if outcome(k) != outcome(b):
        return {"outcome": (outcome(k), outcome(b))}, notes(k, b)
    if k.returncode != 0:
        return {}, notes(k, b)
    kcfg, kfs = kiln_image(runner, tag)
    bcfg, bfs = bah.image(tag)
    diffs = fs_diffs(kfs, bfs)
    diffs.update(config_diffs(kcfg, bcfg))
    return diffs, notes(k, b)


def notes(k, b):
    out = []
    if k.returncode != 0:
        out.append(f"kiln: {run.last_error(k)}")
    if b.returncode != 0:
        lines = [ln for ln in b.stderr.splitlines() if ln.strip()]
        out.append(f"buildah: {(lines[-1] if lines else 'exit %d' % b.returncode)[:300]}")
    return out


# --- main ---------------------------------------------------------------------------

def load_cases(a):
    run.SYMLINKS.update(run.load_symlinks(a.conformance_dir))
    cases = []
    for corpus in a.corpus or run.CORPORA:
        cases += run.LOADERS[corpus](a.conformance_dir)
    if a.only:
        cases = [c for c in cases if re.search(a.only, c.key)]
    return cases


def check_normalisations(tables):
    named = {row[0] for row in tables["Normalisations"] if row}
    missing = set(NORMALISATIONS) - named
    extra = named - set(NORMALISATIONS)
    if missing or extra:
        sys.exit(f"deviations.md: the Normalisations table must list exactly {NORMALISATIONS}"
                 f" (missing {sorted(missing)}, unknown {sorted(extra)})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--corpus", action="append", choices=run.CORPORA)
    ap.add_argument("--conformance-dir", default=os.environ.get("KILN_CONFORMANCE_DIR"))
    ap.add_argument("--busybox-tar", required=True)
    ap.add_argument("--workdir", required=True, help="scratch dir (readable by --user)")
    ap.add_argument("--user", default=os.environ.get("KILN_TEST_USER", "builder"))
    ap.add_argument("--deviations", default=DEVIATIONS)
    ap.add_argument("--results", help="write per-case results (TSV) here")
    ap.add_argument("--only", help="regular expression on corpus/case")
    a = ap.parse_args()

    tables = read_table(a.deviations)
    check_normalisations(tables)
    deviations = read_deviations(tables)
    cases = load_cases(a)
    runner = run.Runner(a)
    need = set()
    for c in cases:
        need |= run.classify(c, a.kiln)
    runner.setup(a.busybox_tar, need)
    bah = Buildah(runner)
    bah.setup(need)

    t0 = time.monotonic()
    try:
        results = [one(runner, bah, c, deviations) for c in cases if not c.state]
    finally:
        bah.cleanup()
    return report(a, cases, results, deviations, time.monotonic() - t0)


def one(runner, bah, case, deviations):
    t = time.monotonic()
    try:
        diffs, why = diff_case(runner, bah, case)
    except (oci.LayoutError, OSError, ValueError, KeyError) as e:
        diffs, why = {"harness": (str(e)[:300], "")}, []
    keys = [case.key] + ([case.key + " (FROM scratch)"] if getattr(case, "scratch", False) else [])
    explained, bad = explain(keys, diffs, deviations)
    verdict = "DIFF" if bad else "explained" if explained else "equal"
    print(f"{verdict} {case.key} ({time.monotonic() - t:.1f}s)", flush=True)
    for line in bad + explained:
        print(f"    {line}", flush=True)
    if verdict == "DIFF":
        for line in why:
            print(f"    ({line})", flush=True)
    return case.key, verdict, bad, explained


def report(a, cases, results, deviations, seconds):
    ran = [r[0] for r in results] + [r[0] + " (FROM scratch)" for r in results]
    stale = [d for d in deviations if d.hits == 0 and any(d.matches("case", k) for k in ran)]
    for d in stale:
        print(f"# STALE deviations.md {d}: buildah {d.buildah!r}, BuildKit {d.buildkit!r}: no "
              "such difference any more (kiln now agrees with buildah, or buildah changed)")
    if a.results:
        with open(a.results, "w", encoding="utf-8") as f:
            f.write("# corpus/case\tverdict\tdifferences\n")
            for key, verdict, bad, _ in results:
                f.write(f"{key}\t{verdict}\t{' | '.join(bad)}\n")
    count = {v: sum(1 for r in results if r[1] == v) for v in ("equal", "explained", "DIFF")}
    skipped = sum(1 for c in cases if c.state)
    print(f"# diff summary ({seconds:.0f}s): {len(results)} cases compared, {count['equal']} equal,"
          f" {count['explained']} explained by deviations.md, {count['DIFF']} differ,"
          f" {len(stale)} stale table rows ({skipped} not compared: offline or not applicable)")
    return 1 if count["DIFF"] or stale else 0


if __name__ == "__main__":
    sys.exit(main())
