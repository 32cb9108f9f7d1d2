#!/usr/bin/env python3
"""Self-test of oci.py's layer walker (run by t0605 before the corpus): two
layers written here with tarfile, the second with a whiteout, an opaque
directory, a hard link and a file replacing a directory, must flatten to the
tree the OCI image spec's rules give."""

import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oci  # noqa: E402


def layer(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, data, extra in entries:
            ti = tarfile.TarInfo(name)
            ti.type = {"f": tarfile.REGTYPE, "d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE,
                       "h": tarfile.LNKTYPE}[kind]
            ti.mode = 0o755 if kind == "d" else 0o644
            if kind in "lh":
                ti.linkname = data
                data = b""
            ti.size = len(data) if kind == "f" else 0
            ti.pax_headers = extra
            tf.addfile(ti, io.BytesIO(data) if kind == "f" else None)
    return buf.getvalue()


def blob(root, data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(root, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + d,
            "size": len(data)}


def main():
    root = tempfile.mkdtemp(prefix="kiln-test-oci.")
    os.makedirs(os.path.join(root, "blobs", "sha256"))
    l1 = layer([("a", "d", b"", {}), ("a/x", "f", b"x", {}), ("b", "d", b"", {}),
                ("b/y", "f", b"y", {}), ("c", "d", b"", {}), ("c/z", "f", b"z", {}),
                ("d", "f", b"d", {"SCHILY.xattr.user.k": "v"})])
    l2 = layer([("a/.wh.x", "f", b"", {}), ("b/.wh..wh..opq", "f", b"", {}),
                ("b/new", "f", b"n", {}), ("c", "f", b"file now", {}),
                ("e", "h", "d", {}), ("s", "l", "a", {})])
    manifest = json.dumps({"schemaVersion": 2, "config": blob(root, b"{}"),
                           "layers": [blob(root, l1), blob(root, l2)]}).encode()
    m = blob(root, manifest)
    m["annotations"] = {"org.opencontainers.image.ref.name": "t"}
    with open(os.path.join(root, "index.json"), "w", encoding="utf-8") as f:
        json.dump({"schemaVersion": 2, "manifests": [m]}, f)
    try:
        fs = oci.rootfs(root, "t")
    finally:
        shutil.rmtree(root)
    got = {p: (e["type"], e.get("links")) for p, e in fs.items()}
    want = {"/": ("dir", None), "/a": ("dir", None), "/b": ("dir", None),
            "/b/new": ("file", None), "/c": ("file", None), "/d": ("file", ["/d", "/e"]),
            "/e": ("file", ["/d", "/e"]), "/s": ("symlink", None)}
    ok = got == want and fs["/d"]["xattrs"] == {"user.k": "76"} and fs["/s"]["target"] == "a"
    print("ok" if ok else f"oci.py self-test failed: got {got}, want {want}, /d {fs['/d']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
