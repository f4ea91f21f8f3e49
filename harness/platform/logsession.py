"""Tail an app's log during a run: a log session, streamed in the background, reopened when it drops.

`POST /apps/{app}/log-sessions` with `tail: true` and no source filter (both
`heroku` and `app` lines) returns a `logplex_url`; reading it yields the log
as Server-Sent Events (`data: <line>`) or plain lines (NOTES §2.9). The URL is
a capability: it is fetched without the API token and never logged.

A stream that ends or fails is reopened with a new session that asks for the
last `backlog_lines` lines, and lines already seen are skipped, so a short
drop loses nothing; the time the stream was down is reported as a gap. A
stream that stays quiet for `idle_reopen_s` is reopened quietly (no gap).
Failures to open a session back off (up to `max_backoff_s`) and end the
stream after `max_failures` in a row; every loop is bounded, and `stop()`
ends the stream within about a second. Works the same against Heroku and the
emulator: one client, one code path.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType

import httpx

from harness.errors import PlatformError
from harness.platform.heroku import HerokuClient

__all__ = ["LogStream", "StreamOptions", "iter_log_lines"]

log = logging.getLogger("harness.platform")

LineHandler = Callable[[str], None]
GapHandler = Callable[[float, float], None]
ErrorHandler = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class StreamOptions:
    """How hard the stream holds on (seconds unless named otherwise)."""

    backlog_lines: int = 1500  # asked for on reopening (Heroku's maximum), de-duplicated against seen lines
    seen_lines: int = 4096  # how many recent lines are remembered for that
    idle_reopen_s: float = 60.0  # no byte for this long: reopen (a silently dead connection)
    backoff_s: float = 0.5  # first wait after a failed open; doubles
    max_backoff_s: float = 10.0
    max_failures: int = 20  # failed opens in a row before the stream gives up
    max_sessions: int = 1000  # sessions opened over the stream's life, a bound on the loop
    connect_timeout_s: float = 10.0


def iter_log_lines(response: httpx.Response) -> Iterator[str]:
    """The log lines of a logplex response: SSE `data:` fields, or plain lines."""
    sse = "text/event-stream" in response.headers.get("Content-Type", "")
    for raw in response.iter_lines():
        line = raw.rstrip("\r")
        if not sse:
            if line:
                yield line
        elif line.startswith("data:"):
            yield line[5:].removeprefix(" ")


class LogStream:
    """Streams `app`'s log to `on_line` in a background thread until `stop()`.

    `on_gap(start_ts, end_ts)` hears of every drop that needed a reconnect, and
    `on_error(message)` of failures to open a session (the last one is final
    when `failed` is set afterwards). Handlers run on the stream's thread.
    """

    def __init__(
        self,
        client: HerokuClient,
        app: str,
        on_line: LineHandler,
        *,
        on_gap: GapHandler | None = None,
        on_error: ErrorHandler | None = None,
        options: StreamOptions | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.app = app
        self.options = options or StreamOptions()
        self.sessions = 0  # log sessions opened
        self.reconnects = 0
        self.failed = False  # gave up: max_failures in a row, or max_sessions
        self._client = client
        self._on_line = on_line
        self._on_gap = on_gap
        self._on_error = on_error
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(self.options.idle_reopen_s, connect=self.options.connect_timeout_s)
        )
        self._owns_http = http is None
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._response: httpx.Response | None = None
        self._lock = threading.Lock()
        self._seen: deque[bytes] = deque(maxlen=self.options.seen_lines)
        self._seen_set: set[bytes] = set()

    def start(self) -> LogStream:
        """Open the first session in the background; returns self."""
        if self._thread is not None:
            raise RuntimeError("this LogStream was already started")
        self._thread = threading.Thread(target=self._run, name=f"log-stream-{self.app}", daemon=True)
        self._thread.start()
        return self

    def wait_connected(self, timeout_s: float) -> bool:
        """Whether the first session is streaming within `timeout_s`."""
        return self._connected.wait(timeout_s)

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the stream (closing the open response) and wait for the thread; safe to call twice."""
        self._stop.set()
        with self._lock:
            response = self._response
        if response is not None:
            _close_quietly(response)
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> LogStream:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- the stream's thread -------------------------------------------------------------------

    def _run(self) -> None:
        failures, down_since = 0, None
        first = True
        while not self._stop.is_set() and self.sessions < self.options.max_sessions:
            try:
                url = self._open_session(first)
            except PlatformError as exc:
                failures += 1
                self._report_error(f"log session could not be opened: {exc.message}")
                if failures >= self.options.max_failures:
                    self.failed = True
                    return
                self._stop.wait(min(self.options.max_backoff_s, self.options.backoff_s * 2 ** (failures - 1)))
                continue
            first = False
            ended_at, quiet = self._stream(url, down_since)
            if ended_at is None:  # never connected: count it as a failed open
                failures += 1
                if failures >= self.options.max_failures:
                    self.failed = True
                    return
                self._stop.wait(min(self.options.max_backoff_s, self.options.backoff_s * 2 ** (failures - 1)))
                continue
            failures = 0
            down_since = None if quiet else ended_at
        if self.sessions >= self.options.max_sessions:
            self.failed = True

    def _open_session(self, first: bool) -> str:
        lines = 1 if first else self.options.backlog_lines  # 1: some platforms refuse 0
        session = self._client.create_log_session(self.app, lines=lines, tail=True)
        self.sessions += 1
        return session.logplex_url

    def _stream(self, url: str, down_since: float | None) -> tuple[float | None, bool]:
        """Read one session to its end: (when it ended, or None if it never streamed; ended by silence)."""
        streaming = False
        try:
            with self._http.stream("GET", url, headers={"Accept": "text/event-stream"}) as response:
                if response.status_code != 200:
                    self._report_error(f"log stream answered HTTP {response.status_code}")
                    return None, False
                with self._lock:
                    self._response = response
                streaming = True
                if self._stop.is_set():
                    return time.time(), False
                self._connected_now(down_since)
                for line in iter_log_lines(response):
                    self._deliver(line)
        except httpx.ReadTimeout:
            return (time.time(), True) if streaming else (None, False)
        except (httpx.HTTPError, OSError, RuntimeError, AttributeError, ValueError) as exc:
            if self._stop.is_set():
                return time.time(), False
            if not streaming:
                self._report_error(f"log stream failed: {type(exc).__name__}")
                return None, False
            log.info("log stream of %s dropped (%s); reconnecting", self.app, type(exc).__name__)
        finally:
            with self._lock:
                self._response = None
        return time.time(), False

    def _connected_now(self, down_since: float | None) -> None:
        if down_since is not None:
            self.reconnects += 1
            if self._on_gap is not None:
                self._on_gap(down_since, time.time())
        self._connected.set()

    def _deliver(self, line: str) -> None:
        key = hashlib.blake2b(line.encode("utf-8", "replace"), digest_size=12).digest()
        if key in self._seen_set:
            return
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(key)
        self._seen_set.add(key)
        self._on_line(line)

    def _report_error(self, message: str) -> None:
        log.info("log stream of %s: %s", self.app, message)
        if self._on_error is not None:
            self._on_error(message)


def _close_quietly(response: httpx.Response) -> None:
    try:
        response.close()
    except Exception:  # closing from another thread may fail in any way; the stream ends anyway
        log.debug("closing the log stream raised", exc_info=True)
