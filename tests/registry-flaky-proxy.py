#!/usr/bin/python3
# A reverse proxy in front of the real registry that answers some requests
# itself with an error, to test retries. For tests only.
# usage: registry-flaky-proxy.py PORT UPSTREAM-PORT MODE LOG
#   MODE "flaky": every 3rd request gets 503, every 5th 429 (Retry-After: 0)
#   MODE "down":  every request gets 500
import http.client, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, upstream, mode, logpath = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
count = 0
lock = threading.Lock()
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        with open(logpath, "a") as f:
            f.write("%s\n" % (fmt % args))

    def injected(self):
        global count
        with lock:
            count += 1
            n = count
        if mode == "down":
            return 500, {}
        if n % 3 == 0:
            return 503, {}
        if n % 5 == 0:
            return 429, {"Retry-After": "0"}
        return None, None

    def handle_any(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(n) if n else None
        status, extra = self.injected()
        if status:
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        c = http.client.HTTPConnection("127.0.0.1", upstream)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        c.request(self.command, self.path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in HOP or k.lower() == "content-length":
                continue
            if k.lower() == "location":
                v = v.replace(":%d/" % upstream, ":%d/" % port)
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)) if self.command != "HEAD"
                         else r.getheader("Content-Length", "0"))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        c.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


ThreadingHTTPServer(("127.0.0.1", port), Proxy).serve_forever()
