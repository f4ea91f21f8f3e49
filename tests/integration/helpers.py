"""Helpers shared by integration tests: the repository's paths, the echo app, the demo shop's quick load.

Test modules import from here (and from `tests/harness_process.py`), never from each other.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import harness.emulator.demo_app as demo_app

if TYPE_CHECKING:
    from harness.emulator.process import EmulatorProcess

REPO = Path(__file__).resolve().parents[2]
DEMO_DIR = Path(demo_app.__file__).parent


def trusting(emulator: EmulatorProcess) -> ssl.SSLContext:
    """An SSL context that verifies the emulator's apps' https:// URLs (its home's CA)."""
    return ssl.create_default_context(cafile=str(emulator.ca_file))


def plain_http(url: str) -> str:
    """The same router port over plain HTTP (it serves both, as a Heroku hostname does)."""
    return url.replace("https://", "http://", 1)


ECHO_APP = r'''
"""A plain http.server app: answers with the headers it got and its dyno environment."""
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ENV = ("DYNO", "DYNO_SIZE", "WEB_CONCURRENCY", "HEROKU_RELEASE_VERSION", "PORT", "GREETING")

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/close":
            self.close_connection = True
            return
        if self.path == "/interim":
            self.send_response_only(103)
            self.send_header("Link", "</style.css>; rel=preload")
            self.end_headers()
            self.wfile.flush()
        if self.path.startswith("/stream"):
            chunked = self.path == "/stream/chunked"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(3):
                part = f"part {i}\n".encode() * 1000
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
                self.wfile.flush()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            self.close_connection = not chunked
            return
        env = {k: os.environ.get(k) for k in ENV}
        body = json.dumps({"headers": dict(self.headers), "env": env}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("echo", self.command, self.path, flush=True)

print("echo app booting", flush=True)
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''


def short_shop_load(*, app: str = "harness-demo", slo: str) -> str:
    """A 30 req/s load of the demo shop: 0.5 s ramp, 1.5 s warm-up, 4 s hold in 2 s windows; `slo` is YAML."""
    return f"""\
version: 1
target:
  app: {app}
  formations: [{{quantity: 1}}]
locustfiles:
  shop: {{path: {REPO / "locustfiles" / "demo_shop.py"}}}
expected_peak: {{rps: 30}}
scenarios:
  - name: shop-load
    kind: load
    level: {{rps: 30}}
    ramp_s: 0.5
    warmup_s: 1.5
    hold_s: 4
    window_s: 2
    slo: {slo}
"""
