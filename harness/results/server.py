"""The server-side log of a run: `server.jsonl` (parsed records) and `server.json` (the stream's status).

    server.jsonl   one parsed record per line (serverlog.record_to_json): router
                   requests, runtime-metric samples, dyno events; bounded by
                   `max_bytes`, after which router records are dropped (counted)
                   while the few metric samples and dyno events still go in
    server.json    StreamStatus: lines seen by kind, odd lines (why, and an example
                   when the line came from the platform), reconnects and gaps,
                   records dropped at the size limit, the stream's error if any
    requests.csv   REQUEST_COLUMNS: the client's side of requests it sent with an
                   X-Request-Id (a bounded sample), to match against router lines
    server_view.json  the ServerView built from all of the above at the end of the run

Lines are parsed as they arrive, so an odd line is only counted; nothing here
raises on content. App output (source `app`) is counted, never stored: it may
hold config values. Writes are buffered and flushed every `flush_s`; a run
killed mid-line leaves one unreadable last line, which the reader skips.
"""

from __future__ import annotations

import contextlib
import csv
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.results.files import write_atomically
from harness.serverlog import (
    ClientRequest,
    DynoEvent,
    MetricSample,
    Odd,
    Other,
    RouterRequest,
    parse_line,
    record_from_json,
    record_to_json,
)
from harness.serverview import ServerView

__all__ = [
    "DEFAULT_MAX_BYTES",
    "REQUEST_COLUMNS",
    "SERVER_JSON",
    "SERVER_JSONL",
    "SERVER_VIEW_JSON",
    "ClientRequest",
    "OddExample",
    "ServerLog",
    "ServerLogWriter",
    "StreamGap",
    "StreamStatus",
    "read_client_requests",
    "read_server_log",
    "read_server_view",
    "write_client_requests",
    "write_server_view",
]

SERVER_JSONL = "server.jsonl"
SERVER_JSON = "server.json"
SERVER_VIEW_JSON = "server_view.json"
REQUESTS_CSV = "requests.csv"
REQUEST_COLUMNS = ["ts", "request_id", "method", "name", "response_time_ms", "status"]
# 64 MiB of router records is about 300,000 requests; metrics and dyno events get this much more.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
SMALL_RECORDS_BYTES = 4 * 1024 * 1024
ODD_EXAMPLES = 10
EXAMPLE_CHARS = 160


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class OddExample(_Model):
    """Why a line could not be read, and the line itself when it came from the platform."""

    why: str
    line: str | None = None


class StreamGap(_Model):
    """The stream was down from `start_ts` to `end_ts` (a reconnect); lines in between may be missing."""

    start_ts: float
    end_ts: float


class StreamStatus(_Model):
    """What the log stream delivered, for the report to say how complete the server view is."""

    started_ts: float
    ended_ts: float | None = None
    lines: int = 0
    router: int = 0
    metrics: int = 0
    dyno_events: int = 0
    app_lines: int = 0
    other: int = 0
    odd: int = 0
    odd_examples: list[OddExample] = Field(default_factory=list)
    dropped: int = 0  # records not written: the file reached max_bytes
    dropped_from_ts: float | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    reconnects: int = 0
    gaps: list[StreamGap] = Field(default_factory=list)
    error: str | None = None  # the stream could not be opened or kept (no token in it)


class ServerLogWriter:
    """Parses log lines as they come and writes them into the run directory, bounded in size.

    `feed` may be called from the streaming thread while `note_*` come from
    another; one lock keeps the counters and the file consistent.
    """

    def __init__(
        self,
        run_path: str | Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        flush_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(run_path)
        self.status = StreamStatus(started_ts=clock(), max_bytes=max_bytes)
        self._clock = clock
        self._flush_s = flush_s
        self._lock = threading.Lock()
        self._file: IO[str] | None = open(self.path / SERVER_JSONL, "a", encoding="utf-8")  # noqa: SIM115
        self._written = self._file.tell()
        self._last_flush = clock()
        self._save_status()

    def feed(self, line: str) -> None:
        """One raw log line: parse it, count it, store it if it is a record and there is room."""
        parsed = parse_line(line)
        with self._lock:
            self.status.lines += 1
            if isinstance(parsed, Odd):
                self._odd(parsed, line)
            elif isinstance(parsed, Other):
                if parsed.source == "app":
                    self.status.app_lines += 1
                else:
                    self.status.other += 1
            else:
                self._store(parsed)
            if self._clock() - self._last_flush >= self._flush_s:
                self._flush()

    def feed_many(self, lines: Iterable[str]) -> None:
        """`feed` each line."""
        for line in lines:
            self.feed(line)

    def note_gap(self, start_ts: float, end_ts: float) -> None:
        """The stream dropped at `start_ts` and was back at `end_ts`."""
        with self._lock:
            self.status.reconnects += 1
            self.status.gaps.append(StreamGap(start_ts=start_ts, end_ts=end_ts))
            self._flush()

    def note_error(self, message: str) -> None:
        """The stream could not be opened or was given up; the report says so."""
        with self._lock:
            self.status.error = message
            self._flush()

    def flush(self) -> None:
        """Write buffered records and the status now."""
        with self._lock:
            self._flush()

    def close(self) -> None:
        """Flush and close; the status gets its end time. Safe to call twice."""
        with self._lock:
            if self._file is None:
                return
            self.status.ended_ts = self._clock()
            self._flush()
            self._file.close()
            self._file = None

    def __enter__(self) -> ServerLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _odd(self, parsed: Odd, line: str) -> None:
        self.status.odd += 1
        if len(self.status.odd_examples) < ODD_EXAMPLES:
            example = line[:EXAMPLE_CHARS] if parsed.platform else None
            self.status.odd_examples.append(OddExample(why=parsed.why, line=example))

    def _store(self, record: RouterRequest | MetricSample | DynoEvent) -> None:
        if isinstance(record, RouterRequest):
            self.status.router += 1
            limit = self.status.max_bytes
        elif isinstance(record, MetricSample):
            self.status.metrics += 1
            limit = self.status.max_bytes + SMALL_RECORDS_BYTES
        else:
            self.status.dyno_events += 1
            limit = self.status.max_bytes + SMALL_RECORDS_BYTES
        text = json.dumps(record_to_json(record), separators=(",", ":")) + "\n"
        if self._file is None or self._written + len(text) > limit:
            self.status.dropped += 1
            if self.status.dropped_from_ts is None:
                self.status.dropped_from_ts = record.ts
            return
        self._file.write(text)
        self._written += len(text)

    def _flush(self) -> None:
        if self._file is not None:
            self._file.flush()
        self._last_flush = self._clock()
        self._save_status()

    def _save_status(self) -> None:
        write_atomically(self.path / SERVER_JSON, self.status.model_dump_json(indent=2).encode())


@dataclass(frozen=True)
class ServerLog:
    """A run's server-side records read back, oldest first by kind."""

    status: StreamStatus
    router: list[RouterRequest] = field(default_factory=list)
    metrics: list[MetricSample] = field(default_factory=list)
    events: list[DynoEvent] = field(default_factory=list)
    unreadable: int = 0  # lines of server.jsonl that did not parse (a run killed mid-write)


def read_server_log(run_path: str | Path) -> ServerLog | None:
    """server.json and server.jsonl of a run; None when the run streamed no log."""
    path = Path(run_path)
    try:
        status = StreamStatus.model_validate_json((path / SERVER_JSON).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValidationError:
        status = StreamStatus(started_ts=0.0, error=f"{SERVER_JSON} is unreadable")
    router: list[RouterRequest] = []
    metrics: list[MetricSample] = []
    events: list[DynoEvent] = []
    unreadable = 0
    with contextlib.suppress(FileNotFoundError), open(path / SERVER_JSONL, encoding="utf-8") as f:
        for line in f:
            record = _record(line)
            if isinstance(record, RouterRequest):
                router.append(record)
            elif isinstance(record, MetricSample):
                metrics.append(record)
            elif isinstance(record, DynoEvent):
                events.append(record)
            else:
                unreadable += 1
    return ServerLog(status, router, metrics, events, unreadable)


def _record(line: str) -> RouterRequest | MetricSample | DynoEvent | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record_from_json(data) if isinstance(data, dict) else None


def write_client_requests(run_path: str | Path, requests: Iterable[ClientRequest]) -> int:
    """Append requests to requests.csv (header on first write); returns how many were written."""
    path = Path(run_path) / REQUESTS_CSV
    new = not path.exists()
    count = 0
    with open(path, "a", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(REQUEST_COLUMNS)
        for r in requests:
            writer.writerow(
                [f"{r.ts:.3f}", r.request_id, r.method, r.name, f"{r.response_time_ms:.1f}", r.status or ""]
            )
            count += 1
    return count


def read_client_requests(run_path: str | Path) -> list[ClientRequest]:
    """requests.csv of a run (empty when the client recorded none); unreadable rows are skipped."""
    rows: list[ClientRequest] = []
    with contextlib.suppress(FileNotFoundError), open(Path(run_path) / REQUESTS_CSV, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            parsed = _client_row(row)
            if parsed is not None:
                rows.append(parsed)
    return rows


def _client_row(row: dict[str, Any]) -> ClientRequest | None:
    try:
        status = row.get("status") or ""
        return ClientRequest(
            ts=float(row["ts"]),
            request_id=str(row["request_id"]),
            method=str(row["method"]),
            name=str(row["name"]),
            response_time_ms=float(row["response_time_ms"]),
            status=int(status) if status.isdigit() else None,
        )
    except (KeyError, TypeError, ValueError):
        return None


def write_server_view(run_path: str | Path, view: ServerView) -> None:
    """server_view.json, atomically."""
    write_atomically(Path(run_path) / SERVER_VIEW_JSON, view.model_dump_json(indent=1).encode())


def read_server_view(run_path: str | Path) -> ServerView | None:
    """server_view.json of a run; None when absent or unreadable (an older or a killed run)."""
    try:
        return ServerView.model_validate_json((Path(run_path) / SERVER_VIEW_JSON).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValidationError):
        return None
