"""A notes app on PostgreSQL: it reads and writes through DATABASE_URL, as a Heroku app does.

`python app.py migrate` creates its table (the Procfile's release phase runs
it before the web dynos start); `python app.py` serves:
`POST /notes` (the body is the note) -> 201 {"id"}, `GET /notes/<id>` -> the
note, `GET /notes/count`, `GET /` -> {"ok", "dyno", "greeting"}. Each
server thread keeps one connection, so keep-alive clients reuse it.
"""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg

URL = os.environ["DATABASE_URL"]
LOCAL = threading.local()


def connection() -> psycopg.Connection:
    conn = getattr(LOCAL, "conn", None)
    if conn is None or conn.closed:
        conn = LOCAL.conn = psycopg.connect(URL, autocommit=True)
    return conn


def migrate() -> None:
    if os.environ.get("NOTES_BREAK_RELEASE"):
        sys.exit("release refused: NOTES_BREAK_RELEASE is set")
    with psycopg.connect(URL) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(42)")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS notes (id bigserial PRIMARY KEY, body text NOT NULL, dyno text)"
        )
    print("migrated: table notes is ready", flush=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        text = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if self.path != "/notes" or not text:
            self._send(400, {"error": "POST /notes with the note as the body"})
            return
        row = (
            connection()
            .execute(
                "INSERT INTO notes (body, dyno) VALUES (%s, %s) RETURNING id", (text, os.environ.get("DYNO"))
            )
            .fetchone()
        )
        self._send(201, {"id": row[0]})

    def do_GET(self) -> None:
        if self.path == "/":
            greeting = os.environ.get("GREETING")
            self._send(200, {"ok": True, "dyno": os.environ.get("DYNO"), "greeting": greeting})
        elif self.path == "/notes/count":
            self._send(200, {"count": connection().execute("SELECT count(*) FROM notes").fetchone()[0]})
        elif self.path.startswith("/notes/") and self.path[7:].isdigit():
            row = (
                connection().execute("SELECT body FROM notes WHERE id = %s", (int(self.path[7:]),)).fetchone()
            )
            self._send(200, {"body": row[0]}) if row else self._send(404, {"error": "no such note"})
        else:
            self._send(404, {"error": "not found"})

    def log_message(self, fmt: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    if sys.argv[1:] == ["migrate"]:
        migrate()
    else:
        server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
        server.daemon_threads = True
        print(f"notes app listening on {os.environ['PORT']}", flush=True)
        server.serve_forever()
