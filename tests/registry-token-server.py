#!/usr/bin/python3
# A small token server for the registry's "auth: token:" mode (the
# distribution token-authentication spec), for tests only.
# usage: registry-token-server.py PORT KEY.pem CERT.pem USER PASSWORD LOG
# Grants what a request's scopes ask for to USER:PASSWORD (GET with basic
# auth) or to the refresh token "PASSWORD-refresh" (POST, OAuth2 form);
# anonymous callers get pull on repositories under "public/"; a wrong
# password gets 401.
import base64, json, subprocess, sys, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

port, key, cert, user, password, logpath = sys.argv[1:7]
der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"],
                     capture_output=True, check=True).stdout


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
    payload = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                         input=payload.encode(), capture_output=True, check=True).stdout
    return payload + "." + b64(sig)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        with open(logpath, "a") as f:
            f.write("%s\n" % (fmt % args))

    def who(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Basic "):
            return None, True
        u, _, p = base64.b64decode(h[6:]).decode().partition(":")
        return u, (u == user and p == password)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        q = parse_qs(self.rfile.read(n).decode())
        if q.get("grant_type") != ["refresh_token"] or \
                q.get("refresh_token") != [password + "-refresh"]:
            self.send_response(401)
            self.end_headers()
            return
        self.grant(user, q, "access_token")

    def do_GET(self):
        q = parse_qs(urlparse(self.path).query)
        name, ok = self.who()
        if not ok:
            self.send_response(401)
            self.end_headers()
            return
        self.grant(name, q, "token")

    def grant(self, name, q, field):
        access = []
        scopes = [x for s in q.get("scope", []) for x in s.split(" ")]
        for s in scopes:
            typ, _, rest = s.partition(":")
            repo, _, actions = rest.rpartition(":")
            acts = actions.split(",")
            if name is None:
                acts = [a for a in acts if a == "pull" and repo.startswith("public/")]
            access.append({"type": typ, "name": repo, "actions": acts})
        now = int(time.time())
        claims = {"iss": "kiln-test-issuer", "sub": name or "", "aud": q.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()),
                  "access": access}
        body = json.dumps({field: sign(claims), "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
