#!/usr/bin/python3
# A hostile HTTP server for tests: a registry whose layer blob never ends, and
# URLs for ADD that trickle or never end. For tests only.
# usage: hostile-http-server.py PORT LOG
#   /v2/                        200 {}
#   /v2/big/manifests/1         an OCI manifest: config + one layer of 1000 bytes
#   /v2/big/blobs/<config>      the config
#   /v2/big/blobs/<layer>       'x' bytes, chunked, without end (up to 256 MiB)
#   /endless                    the same, for ADD
#   /sized/N                    N bytes of 'y' with a Content-Length
#   /trickle                    one byte a second, without end
# Every response logs "PATH sent N" (the bytes the client took) to LOG.
import hashlib, json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, logpath = int(sys.argv[1]), sys.argv[2]
LAYER = b"l" * 1000
CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers",
                                "diff_ids": ["sha256:" + hashlib.sha256(LAYER).hexdigest()]}}).encode()
def desc(mt, b):
    return {"mediaType": mt, "digest": "sha256:" + hashlib.sha256(b).hexdigest(), "size": len(b)}
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": desc("application/vnd.oci.image.config.v1+json", CONFIG),
                       "layers": [desc("application/vnd.oci.image.layer.v1.tar", LAYER)]}).encode()
CHUNK = b"x" * 65536


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def sent(self, n):
        with open(logpath, "a") as f:
            f.write("%s sent %d\n" % (self.path, n))

    def whole(self, body, mt="application/octet-stream"):
        self.send_response(200)
        self.send_header("Content-Type", mt)
        self.send_header("Docker-Content-Digest", "sha256:" + hashlib.sha256(body).hexdigest())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def stream(self, chunk, pause=0.0, limit=256 << 20):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        n = 0
        try:
            while n < limit:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                n += len(chunk)
                if pause:
                    time.sleep(pause)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.sent(n)

    def do_GET(self):
        p = self.path
        cfg = "/v2/big/blobs/sha256:" + hashlib.sha256(CONFIG).hexdigest()
        if p == "/v2/":
            self.whole(b"{}", "application/json")
        elif p == "/v2/big/manifests/1":
            self.whole(MANIFEST, "application/vnd.oci.image.manifest.v1+json")
        elif p == cfg:
            self.whole(CONFIG)
        elif p.startswith("/v2/big/blobs/") or p == "/endless":
            self.stream(CHUNK)
        elif p.startswith("/sized/"):
            self.whole(b"y" * int(p[7:]))
        elif p == "/trickle":
            self.stream(b"t", pause=1.0)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    do_HEAD = do_GET


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
