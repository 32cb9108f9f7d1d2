#!/usr/bin/env python3
# Check every #include "module/..." in the tree against the module layering of
# STYLE.md ("Modules"): a module includes only the modules below it, and of
# another module only its public header (module/module.h; every non-internal
# header of util/). A module's own tests/ may include its private headers.
# usage: tools/lint-layering.py [SRCDIR]   prints each violation; exit 1 if any
import os
import re
import sys

# module -> the modules it may include (besides itself and util/)
ALLOWED = {
    "util": set(),
    "parser": set(),
    "layers": set(),
    "registry": {"layers"},
    "sandbox": set(),
    "copy": {"parser", "layers"},
    "builder": {"parser", "layers", "registry", "sandbox", "copy"},
    "cmd": {"parser", "layers", "registry", "sandbox", "copy", "builder"},
    "fuzz": {"parser", "layers", "registry", "sandbox", "copy", "builder"},
    "bench": {"parser", "layers", "registry", "sandbox", "copy", "builder"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z0-9_]+)/([^"]+)"')


def public(module, header):
    if header.endswith("-internal.h") or "/" in header:
        return False
    return module == "util" or header == module + ".h"


def check_line(path, lineno, module, line):
    m = INCLUDE.match(line)
    if not m or m.group(1) == module:
        return None
    dep, header = m.groups()
    if dep not in ALLOWED:
        return None  # not one of our modules (a test's local header)
    if dep != "util" and dep not in ALLOWED[module]:
        return f"{path}:{lineno}: {module}/ must not include {dep}/ ({dep}/{header})"
    if not public(dep, header):
        return f"{path}:{lineno}: {dep}/{header} is private to {dep}/; include {dep}/{dep}.h"
    return None


def check_file(src, path):
    rel = os.path.relpath(path, src)
    module = rel.split(os.sep)[0]
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            msg = check_line(rel, lineno, module, line)
            if msg:
                out.append(msg)
    return out


def self_test():
    """The lint must catch a planted violation of each kind, or it proves nothing."""
    import tempfile

    cases = {
        "layers/a.c": '#include "builder/builder.h"\n',  # upward arrow
        "builder/b.c": '#include "layers/layers-internal.h"\n',  # private header
        "cmd/c.c": '#include "registry/registry.h"\n#include "util/fs.h"\n',  # fine
    }
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in cases.items():
            os.makedirs(os.path.join(tmp, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "w") as f:
                f.write(text)
        found = [m for rel in sorted(cases) for m in check_file(tmp, os.path.join(tmp, rel))]
    want = ["builder/b.c:1: layers/layers-internal.h is private to layers/; include layers/layers.h",
            "layers/a.c:1: layers/ must not include builder/ (builder/builder.h)"]
    if found != want:
        print("lint-layering self-test failed:", found)
        return False
    return True


def main():
    if not self_test():
        return 1
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    problems = []
    for module in sorted(ALLOWED):
        top = os.path.join(src, module)
        for root, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(files):
                if name.endswith((".c", ".h")):
                    problems += check_file(src, os.path.join(root, name))
    for p in problems:
        print(p)
    print(f"lint-layering: {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
