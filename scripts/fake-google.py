#!/usr/bin/env python3
"""A stand-in for Google's sign-in endpoints for scripts/schemathesis, standard library only.

GET /jwks serves one RSA public key (of a throwaway key pair whose private half was discarded:
no token can ever verify against it, so every ID token a fuzzer sends is refused with 401), and
POST /token answers like Google's token endpoint does to a code it does not know: 400
invalid_grant. Usage: fake-google.py PORT
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

JWKS = {"keys": [{
    "kty": "RSA", "alg": "RS256", "use": "sig", "kid": "fake-google-1", "e": "AQAB",
    "n": "4NpyPHoBaKNZ8Vfbnzsxwd90tBMlURSd0ZEwgBkXbhaBDMwm-mSXx_lFfNxFBZvo_DjcF-CRGs14UBC9Qr3E3SFC9w37FCJLr6VjQfHu5Im5_wqTF4F-YwZZ-wTDe09rxL15rN-ov5vkpKfUFWsnBRqrFxgDG_Iis2ps7oZ9FKoILrgHKZwRve2dE0Q9X2bOHZGrjXwBv2l9QQ6Nb4i8-AReXAieSsZ9WS3--7qs1vAKe7fH-tZPyzsx4mnHXnGIMPyRIeMf6a-8maXo8DUilJTVG6sCOubCH0PaPFkEf8TpILOO4OK-ecxZj_7u_yXrEUQuPh5LVpBNl8k9kOmabQ",
}]}


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/jwks":
            self.answer(200, JWKS, [("Cache-Control", "public, max-age=3600")])
        else:
            self.answer(404, {"error": "not_found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path == "/token":
            self.answer(400, {"error": "invalid_grant", "error_description": "Bad Request"})
        else:
            self.answer(404, {"error": "not_found"})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
