"""Heroku-format log lines in a ring buffer, with async subscribers (the emulator's logplex).

A line looks like Heroku's: ``2024-10-17T22:23:22.209776+00:00 app[web.1]: message``
(RFC 5424 timestamp with microseconds and ``+00:00``; source ``app`` for dyno
output, ``heroku`` for the router and the dyno manager; dyno ``web.1`` or
``router``). Log sessions read `recent()` for the backlog and `subscribe()` to tail.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["DEFAULT_CAPACITY", "LogBuffer", "LogSubscription", "format_line"]

# Lines kept for `recent()`; Heroku's own `--num` maximum is 1,500, so 10,000 is plenty locally.
DEFAULT_CAPACITY = 10_000
# Lines a slow subscriber may fall behind before the oldest unread ones are dropped (like logplex).
SUBSCRIBER_BACKLOG = 10_000


def format_line(source: str, dyno: str, message: str, when: datetime | None = None) -> str:
    """One Heroku log line; `when` defaults to now (UTC)."""
    stamp = _now_stamp() if when is None else when.astimezone(UTC).isoformat(timespec="microseconds")
    return f"{stamp} {source}[{dyno}]: {message}"


_second_cache: tuple[int, str] = (-1, "")


def _now_stamp() -> str:
    """Now as `2024-10-17T22:23:22.209776+00:00`; the router logs every request, so seconds are cached."""
    global _second_cache
    now = time.time()
    second = int(now)
    if _second_cache[0] != second:
        _second_cache = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_second_cache[1]}.{int((now - second) * 1e6):06d}+00:00"


def _matches(source: str | None, dyno: str | None, line_source: str, line_dyno: str) -> bool:
    """`dyno` matches one dyno (`web.1`) or a whole process type (`web`), as `heroku logs --dyno` does."""
    if source is not None and source != line_source:
        return False
    return dyno is None or line_dyno == dyno or line_dyno.startswith(dyno + ".")


@dataclass(frozen=True, slots=True)
class _Entry:
    source: str
    dyno: str
    line: str


class LogSubscription:
    """An async iterator of new lines matching a filter; ends after `aclose()`.

    The buffer holds subscriptions weakly, so one its reader drops stops being fed.
    """

    def __init__(self, source: str | None, dyno: str | None) -> None:
        self.source = source
        self.dyno = dyno
        self._queue: deque[str] = deque(maxlen=SUBSCRIBER_BACKLOG)
        self._ready = asyncio.Event()
        self._closed = False

    def _offer(self, entry: _Entry) -> None:
        if not self._closed and _matches(self.source, self.dyno, entry.source, entry.dyno):
            self._queue.append(entry.line)
            self._ready.set()

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    async def aclose(self) -> None:
        """Take no more lines; the iteration ends once the lines already queued are read."""
        self._closed = True
        self._ready.set()


class LogBuffer:
    """Ring buffer of the last `capacity` log lines of one app, plus live subscribers.

    Use it from the event loop's thread only (the runtime, the router and the
    API all run on that loop).
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._entries: deque[_Entry] = deque(maxlen=capacity)
        self._subscribers: weakref.WeakSet[LogSubscription] = weakref.WeakSet()

    def append(self, source: str, dyno: str, message: str, *, when: datetime | None = None) -> str:
        """Record one line (`source` "app" or "heroku", `dyno` "web.1" or "router"); returns it formatted."""
        entry = _Entry(source, dyno, format_line(source, dyno, message, when))
        self._entries.append(entry)
        if self._subscribers:
            for subscriber in list(self._subscribers):
                subscriber._offer(entry)
        return entry.line

    def recent(self, n: int, *, source: str | None = None, dyno: str | None = None) -> list[str]:
        """The last `n` matching lines, oldest first."""
        if n <= 0:
            return []
        picked: list[str] = []
        for entry in reversed(self._entries):
            if _matches(source, dyno, entry.source, entry.dyno):
                picked.append(entry.line)
                if len(picked) >= n:
                    break
        picked.reverse()
        return picked

    def subscribe(self, *, source: str | None = None, dyno: str | None = None) -> LogSubscription:
        """Lines appended from now on that match; registered at once, so nothing between calls is lost."""
        subscription = LogSubscription(source, dyno)
        self._subscribers.add(subscription)
        return subscription

    def __len__(self) -> int:
        return len(self._entries)
