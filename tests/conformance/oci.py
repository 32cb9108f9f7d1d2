"""Read an image out of an OCI image layout without unpacking it: its config and
its root filesystem, flattened from the layer tars with the OCI whiteout rules,
as {path: entry} where entry is a dict of what a layer can carry.

Used by diff.py to compare an image kiln built with one buildah built.
Nothing here extracts a file to disk, so a hostile layer cannot write anywhere.
"""

import gzip
import hashlib
import io
import json
import os
import tarfile

TYPES = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir",
         tarfile.SYMTYPE: "symlink", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block",
         tarfile.FIFOTYPE: "fifo", tarfile.CONTTYPE: "file"}
XATTR_PREFIX = "SCHILY.xattr."


class LayoutError(Exception):
    pass


def _blob(layout, digest):
    algo, _, hexd = digest.partition(":")
    if algo != "sha256" or len(hexd) != 64 or not all(c in "0123456789abcdef" for c in hexd):
        raise LayoutError(f"bad digest {digest!r}")
    return os.path.join(layout, "blobs", "sha256", hexd)


def _json(layout, digest):
    with open(_blob(layout, digest), "rb") as f:
        return json.load(f)


def manifest(layout, ref):
    """The manifest named @ref (org.opencontainers.image.ref.name) in @layout."""
    with open(os.path.join(layout, "index.json"), encoding="utf-8") as f:
        index = json.load(f)
    for m in index.get("manifests", []):
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref:
            return _json(layout, m["digest"])
    raise LayoutError(f"no image {ref!r} in {layout}")


def config(layout, ref):
    return _json(layout, manifest(layout, ref)["config"]["digest"])


def _norm(name):
    name = name.lstrip("/")
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    return "/" + name if name not in ("", ".") else "/"


def _parent(path):
    return os.path.dirname(path) if path != "/" else None


def _remove_tree(fs, path, keep_root=False):
    prefix = path.rstrip("/") + "/"
    for p in [p for p in fs if p.startswith(prefix) or (p == path and not keep_root)]:
        del fs[p]


def _xattrs(member):
    out = {}
    for k, v in member.pax_headers.items():
        if k.startswith(XATTR_PREFIX):
            raw = v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v
            out[k[len(XATTR_PREFIX):]] = raw.hex()
    return out


def _entry(tf, m, lookup, inodes):
    if m.islnk():
        target = lookup(_norm(m.linkname))
        if target is None or target["type"] != "file":
            raise LayoutError(f"hardlink {m.name} to missing {m.linkname}")
        e = dict(target)
        e["_inode"] = target["_inode"]
        return e
    kind = TYPES.get(m.type)
    if kind is None:
        raise LayoutError(f"unknown tar type {m.type!r} for {m.name}")
    e = {"type": kind, "mode": "%04o" % (m.mode & 0o7777), "uid": m.uid, "gid": m.gid,
         "xattrs": _xattrs(m)}
    if kind == "file":
        data = tf.extractfile(m).read()
        e["size"] = len(data)
        e["sha256"] = hashlib.sha256(data).hexdigest()
        inodes[0] += 1
        e["_inode"] = inodes[0]
    elif kind == "symlink":
        e["target"] = m.linkname
    elif kind in ("char", "block"):
        e["device"] = f"{m.devmajor}:{m.devminor}"
    return e


def _open_layer(path, media_type):
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"\x1f\x8b":
        return tarfile.open(fileobj=gzip.open(path), mode="r|")
    if head == b"\x28\xb5\x2f\xfd":
        import subprocess  # zstd: no module in Debian's python3 stdlib
        data = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
        return tarfile.open(fileobj=io.BytesIO(data), mode="r|")
    return tarfile.open(path, mode="r|")


def _apply_layer(fs, tf, inodes):
    """Apply one layer: whiteouts remove from the layers below, entries add."""
    adds = {}
    for m in tf:
        path = _norm(m.name)
        base = os.path.basename(path)
        if base == ".wh..wh..opq":
            _remove_tree(fs, _parent(path), keep_root=True)
        elif base.startswith(".wh."):
            _remove_tree(fs, os.path.join(_parent(path), base[4:]))
        else:
            adds[path] = _entry(tf, m, lambda p: adds.get(p) or fs.get(p), inodes)
    for path, e in adds.items():
        old = fs.get(path)
        if old is not None and (old["type"] != "dir" or e["type"] != "dir"):
            _remove_tree(fs, path)
        fs[path] = e
        p = _parent(path)
        while p and p not in fs:
            fs[p] = {"type": "dir", "mode": "(implicit)", "uid": 0, "gid": 0, "xattrs": {}}
            p = _parent(p)


def rootfs(layout, ref):
    """{path: entry} of the image @ref; a hardlinked file's entry carries "links",
    the sorted paths of every name of that file."""
    fs, inodes = {}, [0]
    for layer in manifest(layout, ref)["layers"]:
        with _open_layer(_blob(layout, layer["digest"]), layer.get("mediaType", "")) as tf:
            _apply_layer(fs, tf, inodes)
    groups = {}
    for p, e in fs.items():
        if "_inode" in e:
            groups.setdefault(e["_inode"], []).append(p)
    for p, e in fs.items():
        ino = e.pop("_inode", None)
        if ino is not None and len(groups[ino]) > 1:
            e["links"] = sorted(groups[ino])
    return fs
