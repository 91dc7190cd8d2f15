#!/usr/bin/env python3
"""A tiny HTTP receiver for Kannel's sms-service get-url and dlr-url.

    python3 recorder.py OUT.jsonl READY_FILE

Listens on 127.0.0.1 on a port the kernel picks, writes that port to
READY_FILE, and appends one JSON line per request to OUT.jsonl:

    {"method", "path", "query" (raw), "params": {name: text},
     "params_hex": {name: hex of the raw bytes}}

Values are percent-decoded to bytes; "params" shows them as UTF-8 (with
replacement characters where they are not), "params_hex" keeps the exact
bytes, so UCS-2 or GSM bytes that Kannel passes through stay checkable.
Answers 200 with an empty body (Kannel sends no reply SMS for it when the
service also has max-messages = 0).
"""
import http.server
import json
import os
import sys
import threading
import urllib.parse

OUT, READY = sys.argv[1], sys.argv[2]
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def _record(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        pairs = urllib.parse.parse_qsl(url.query, keep_blank_values=True, encoding="latin-1")
        params, params_hex = {}, {}
        for k, v in pairs:
            raw = v.encode("latin-1")
            params[k] = raw.decode("utf-8", errors="replace")
            params_hex[k] = raw.hex()
        rec = {"method": self.command, "path": url.path, "query": url.query,
               "params": params, "params_hex": params_hex,
               "body": body.decode("utf-8", errors="replace")}
        with lock:
            with open(OUT, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _record

    def log_message(self, fmt, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
tmp = READY + ".tmp"
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]) + "\n")
os.rename(tmp, READY)
open(OUT, "a").close()
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
