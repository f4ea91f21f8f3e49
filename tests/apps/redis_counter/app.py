"""A hit counter on Redis: every `GET /hit` increments a counter through REDIS_URL.

`GET /hit` -> {"hits": n} (INCR), `GET /hits` -> {"hits": n}, `GET /` -> {"ok", "dyno"}.
"""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis

STORE = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=10)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/hit":
            self._send(200, {"hits": STORE.incr("hits")})
        elif self.path == "/hits":
            self._send(200, {"hits": int(STORE.get("hits") or 0)})
        elif self.path == "/":
            self._send(200, {"ok": bool(STORE.ping()), "dyno": os.environ.get("DYNO")})
        else:
            self._send(404, {"error": "not found"})

    def log_message(self, fmt: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    server.daemon_threads = True
    print(f"counter app listening on {os.environ['PORT']}", flush=True)
    server.serve_forever()
