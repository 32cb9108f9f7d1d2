#!/usr/bin/env python3
"""The real-world shape of the differential test (tests/t0606): a Debian
bookworm base made by mmdebstrap, imported into kiln and into buildah, then
a few Dockerfiles as people write them (apt-get install, a multi-stage gcc
build, useradd + USER, setcap), each built by both and compared as diff.py
compares the corpus cases; then each kiln image runs under podman and its
output is checked.

Differences that are expected between any two builds of an apt or dpkg step
(logs, caches with times in them) are the "Noise" rows of deviations.md; the
case names are realworld/NAME.
"""

import argparse
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import diff  # noqa: E402
import run  # noqa: E402

HELLO_C = r'''#include <stdio.h>
int main(void) { printf("built by gcc %d.%d\n", __GNUC__, __GNUC_MINOR__); return 0; }
'''

CASES = {
    "apt": ("FROM debian:bookworm\n"
            "RUN apt-get install -y --no-install-recommends hello\n"
            'CMD ["hello"]\n', "Hello, world!"),
    "gcc": ("FROM debian:bookworm AS build\n"
            "COPY hello.c /src/\n"
            "RUN gcc -O2 -o /src/hello /src/hello.c\n"
            "FROM debian:bookworm\n"
            "COPY --from=build /src/hello /usr/local/bin/hello-c\n"
            'CMD ["hello-c"]\n', "built by gcc 12."),
    "user": ("FROM debian:bookworm\n"
             "RUN useradd -m -u 1234 -s /bin/sh app\n"
             "USER app\n"
             "WORKDIR /home/app\n"
             "RUN echo made by $(id -un) >note\n"
             'CMD ["sh", "-c", "id; cat note"]\n', "uid=1234(app) gid=1234(app) groups=1234(app)\nmade by app"),
    "setcap": ("FROM debian:bookworm\n"
               "RUN cp /bin/true /usr/local/bin/pinger && "
               "setcap cap_net_raw+ep /usr/local/bin/pinger\n"
               'CMD ["getcap", "/usr/local/bin/pinger"]\n', "/usr/local/bin/pinger cap_net_raw=ep"),
}


def noise_rows(path):
    rows, section = [], None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                section = line[3:].strip()
                continue
            if section == "Noise" and line.startswith("|") and not line.startswith("| -"):
                cells = [diff.unquote(c.strip()) for c in line.strip().strip("|").split(" | ")]
                rows.append(cells)
    return [[diff.pattern(c[0]), diff.pattern(c[1]), 0, c[1]] for c in rows[1:]]


def podman_run(runner, tag):
    """Run kiln's image from its store under rootless podman, as the test user."""
    argv = ["podman", "--runtime", "runc", "run", "--rm", "--network", "none",
            f"oci:{runner.store}:{tag}"]
    return runner.as_user(argv, timeout=120)


def one(runner, bah, name, deviations, noise):
    dockerfile, want = CASES[name]
    ctx = os.path.join(runner.work, name)
    os.makedirs(ctx)
    with open(os.path.join(ctx, "Dockerfile"), "w", encoding="utf-8") as f:
        f.write(dockerfile)
    with open(os.path.join(ctx, "hello.c"), "w", encoding="utf-8") as f:
        f.write(HELLO_C)
    runner.chown(ctx)
    tag = f"rw-{name}:latest"
    t = time.monotonic()
    k = runner.build(ctx, os.path.join(ctx, "Dockerfile"), tag, [], [])
    b = bah.build(ctx, os.path.join(ctx, "Dockerfile"), tag, [], [], network="host")
    bad = []
    if k.returncode != 0 or b.returncode != 0:
        bad = [f"outcome: kiln {diff.outcome(k)}, buildah {diff.outcome(b)}"] + diff.notes(k, b)
        return name, bad, 0, time.monotonic() - t
    kcfg, kfs = diff.kiln_image(runner, tag)
    bcfg, bfs = bah.image(tag)
    diffs = diff.fs_diffs(kfs, bfs)
    diffs.update(diff.config_diffs(kcfg, bcfg))
    key = f"realworld/{name}"
    quiet = 0
    for f in list(diffs):
        row = next((n for n in noise if n[0].fullmatch(key) and n[1].fullmatch(f)), None)
        if row:
            row[2] += 1
            quiet += 1
            del diffs[f]
    explained, bad = diff.explain(key, diffs, deviations)
    r = podman_run(runner, tag)
    got = (r.stdout + r.stderr).strip()
    if r.returncode != 0 or want not in got:
        bad.append(f"podman run: exit {r.returncode}, output {got[-300:]!r}, want {want!r}")
    return name, bad + [f"(explained) {e}" for e in explained], quiet, time.monotonic() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--base-tar", required=True,
                    help="the mmdebstrap rootfs tarball (readable by --user)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--user", default=os.environ.get("KILN_TEST_USER", "builder"))
    ap.add_argument("--only", help="regular expression on the case name")
    a = ap.parse_args()
    a.busybox_tar = None
    tables = diff.read_table(diff.DEVIATIONS)
    deviations = diff.read_deviations(tables)
    noise = noise_rows(diff.DEVIATIONS)

    runner = run.Runner(a)
    os.makedirs(os.path.join(runner.work, "home"), exist_ok=True)
    runner.chown(runner.work)
    r = runner.as_user([a.kiln, "import", os.path.abspath(a.base_tar), "debian:bookworm"])
    if r.returncode != 0:
        sys.exit(f"realworld: kiln import failed: {r.stderr}")
    bah = diff.Buildah(runner)
    src = f"oci:{runner.store}:debian:bookworm"
    r = subprocess.run(["skopeo", "copy", "-q", src,
                        bah.storage + "docker.io/library/debian:bookworm"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"realworld: skopeo copy into buildah's store failed: {r.stderr}")
    failed = 0
    try:
        for name in CASES:
            if a.only and not re.search(a.only, name):
                continue
            name, bad, quiet, secs = one(runner, bah, name, deviations, noise)
            real = [x for x in bad if not x.startswith("(explained)")]
            failed += bool(real)
            print(f"{'DIFF' if real else 'equal'} realworld/{name} ({secs:.1f}s, {quiet} noise "
                  "differences ignored)", flush=True)
            for line in bad:
                print(f"    {line}", flush=True)
    finally:
        bah.cleanup()
    for d in deviations:
        if d.case.startswith("realworld/") and d.hits == 0 and not a.only:
            print(f"# STALE deviations.md {d}: no such difference any more")
            failed += 1
    for n in noise:
        if n[2] == 0 and not a.only:
            print(f"# STALE deviations.md noise row {n[3]}: no such difference any more")
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
