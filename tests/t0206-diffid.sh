#!/bin/sh
# A layer is named by its diffID only once the uncompressed tar's SHA-256 matched it:
# an image whose config claims another image's diffID (from an OCI layout or a
# registry) cannot replace that image's snapshot; `kiln fsck --snapshots` finds a
# snapshot changed on disk.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
. "$(dirname "$0")/lib-build.sh"
need_cmd python3 skopeo

build_setup
X=$(cfg busybox:1 '.rootfs.diff_ids[0]' | tr -d '"')
say "busybox:1 has diffID $X"

# evil_layout DIR NAME: an OCI layout whose one layer (evil.txt) claims diffID $X
evil_layout() {
	python3 - "$1" "$2" "$X" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out, name, claim = sys.argv[1:]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for path, data in (("evil.txt", b"pwned\n"), ("bin/busybox", b"#!pwned\n")):
        i = tarfile.TarInfo(path); i.size = len(data); i.mode = 0o755
        t.addfile(i, io.BytesIO(data))
layer = gzip.compress(buf.getvalue(), mtime=0)
os.makedirs(out + "/blobs/sha256")
def blob(b):
    d = hashlib.sha256(b).hexdigest()
    open(out + "/blobs/sha256/" + d, "wb").write(b)
    return {"digest": "sha256:" + d, "size": len(b)}
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": [claim]}}).encode()
cd = blob(config); cd["mediaType"] = "application/vnd.oci.image.config.v1+json"
ld = blob(layer); ld["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": cd, "layers": [ld]}).encode()
md = blob(m); md["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
md["annotations"] = {"org.opencontainers.image.ref.name": name}
json.dump({"schemaVersion": 2, "manifests": [md]}, open(out + "/index.json", "w"))
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
	chmod -R a+rX "$1"
}

# tree DIR: every entry's path, type, mode, owner, size, link and content digest
tree() {
	(cd "$1" && find . -printf '%p %y %m %U:%G %s %l\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

snap=$KILN_ROOT/snapshots/${X#sha256:}
d=$(ctx app)
printf 'FROM busybox:1\nRUN test ! -e /evil.txt && /bin/busybox true\n' >"$d/Dockerfile"

say "the reference snapshot of busybox:1, in a store of its own"
KILN_ROOT=$T/ref as_runner "$KILN" import "$(busybox_rootfs_tar)" busybox:1 >/dev/null
KILN_ROOT=$T/ref as_runner "$KILN" build --progress=plain -t ref "$d" >"$T/out" 2>"$T/log" ||
	fail "reference build: $(cat "$T/log")"
tree "$T/ref/snapshots/${X#sha256:}" >"$T/ref.tree"

say "an OCI layout whose layer claims busybox's diffID, before busybox was ever unpacked"
evil_layout "$T/evil" evil:1
as_runner "$KILN" pull "oci:$T/evil" >/dev/null
e=$(ctx evil)
printf 'FROM evil:1\nRUN true\n' >"$e/Dockerfile"
kb_fail -t e "$e"
grep -q "wrong diffID calculated on extraction" "$T/log" || fail "no diffID error: $(cat "$T/log")"
grep -qF "$X" "$T/log" || fail "the error does not name the diffID: $(cat "$T/log")"
grep -qF "image 'evil:1': layer 1/1 'sha256:" "$T/log" || fail "the error does not name the image: $(cat "$T/log")"
[ ! -e "$snap" ] || fail "a snapshot named $X exists after the refused layer"
ls "$KILN_ROOT/tmp" | grep -q snap && fail "a half-unpacked snapshot is left in tmp/: $(ls "$KILN_ROOT/tmp")"

say "busybox:1 still builds with its own files, and its snapshot is the reference"
kb -t a "$d"
tree "$snap" >"$T/a.tree"
diff -u "$T/ref.tree" "$T/a.tree" || fail "busybox's snapshot differs from the reference"

say "the same image through a real registry, now that busybox's snapshot exists"
registry_start
skopeo copy -q --dest-tls-verify=false "oci:$T/evil:evil:1" "docker://$REGISTRY/evil:2"
as_runner "$KILN" pull -q "$REGISTRY/evil:2" >/dev/null
printf 'FROM %s/evil:2\nRUN true\n' "$REGISTRY" >"$e/Dockerfile"
kb_fail -t e2 "$e"
grep -qF "image '$REGISTRY/evil:2': layer 1/1 'sha256:" "$T/log" || fail "the error does not name the image: $(cat "$T/log")"
grep -q "wrong diffID" "$T/log" || fail "no diffID error: $(cat "$T/log")"
kb --no-cache -t a2 "$d"
tree "$snap" >"$T/a2.tree"
diff -u "$T/ref.tree" "$T/a2.tree" || fail "busybox's snapshot changed after the registry image"

say "kiln fsck --snapshots: a store as builds leave it is clean"
printf 'FROM busybox:1\nRUN mkdir -p /d/e && echo hi >/d/e/f && chmod 4755 /d/e/f && rm /bin/true\n' >"$d/Dockerfile"
kb -t b:1 "$d"
as_runner "$KILN" fsck --snapshots >"$T/fsck.out" 2>&1 || true
# the refused evil images stay named: their blob is reported, busybox's snapshot is not changed
grep -v "evil\|cannot unpack its layer" "$T/fsck.out" | grep -q "differs" && fail "fsck found differences in a clean store: $(cat "$T/fsck.out")"
as_runner "$KILN" rmi evil:1 "$REGISTRY/evil:2" >/dev/null
as_runner "$KILN" fsck --snapshots >"$T/fsck.out" 2>&1 || fail "fsck --snapshots on a clean store: $(cat "$T/fsck.out")"

say "kiln fsck --snapshots finds a changed file, a changed mode and an added file"
echo tampered >>"$snap/etc/passwd"
expect_fail 1 "problem" as_runner "$KILN" fsck --snapshots
grep -qF "snapshot '$X': differs from its layer in 1 entry: changed 'etc/passwd'" "$T/.out" ||
	fail "fsck does not name the changed file: $(cat "$T/.out" "$T/.err")"
top=$(cfg b:1 '.rootfs.diff_ids[-1]' | tr -d '"' | cut -d: -f2)
[ -d "$KILN_ROOT/snapshots/$top" ] || fail "no snapshot of b's RUN layer"
chmod 0755 "$KILN_ROOT/snapshots/$top/d/e/f"
touch "$KILN_ROOT/snapshots/$top/d/new"
expect_fail 1 "problems" as_runner "$KILN" fsck --snapshots
grep -qF "changed 'd/e/f', unexpected 'd/new'" "$T/.out" ||
	fail "fsck does not name the changed step layer: $(cat "$T/.out" "$T/.err")"
