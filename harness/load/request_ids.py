"""X-Request-Id on every request harness sends, and a bounded tape of what the client saw of each.

Heroku's router keeps a client's `X-Request-Id` (20-200 of `[A-Za-z0-9+/=-]`)
and logs it as `request_id`, so a router line can be joined to the client's
own timing of the same request. `with_request_ids` makes a user class send a
fresh uuid on every request that has none (a locustfile that sets its own
keeps it) and pass the id to Locust's `request` event in its context.

`RequestTape` listens to that event and keeps (time, id, endpoint, response
time, status), at most `per_second` a second and `capacity` in all, so the
memory cost is bounded on any run.

Both sit on every request's path, so they are kept lean (issue 12: harness
must generate >= 95 % of plain Locust's requests/s): ids are a per-process
random uuid-shaped prefix plus a counter (unique, no `uuid4()` per request),
and a request over the second's quota costs one comparison. On a worker it ships its records to the
master inside Locust's stats report, as `RequestSink` does. One tape per
process (`TAPE`): a harness process runs one test at a time, and the run's
log capture drains it into the run directory.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from locust import User
from locust.event import Events

from harness.load.listening import EventListening

__all__ = ["REQUEST_ID_HEADER", "REQUEST_ID_KEY", "TAPE", "RequestTape", "TapedRequest", "with_request_ids"]

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_KEY = "harness_request_id"  # the key in the request event's context
REPORT_KEY = "harness_request_ids"
# (ts, request id, method, name, response time ms, status)
TapedRequest = tuple[float, str, str, str, float, int | None]


class _Ids:
    """Unique request ids shaped like a uuid (36 chars): a random per-process prefix and a counter."""

    def __init__(self) -> None:
        self.prefix = str(uuid.uuid4())[:24]  # 8-4-4-4- of a random uuid; the last 12 count
        self.counter = itertools.count()

    def next(self) -> str:
        return self.prefix + format(next(self.counter) & 0xFFFFFFFFFFFF, "012x")


_IDS = _Ids()


def _own_id(headers: Any) -> Any:
    """The X-Request-Id a header mapping already carries (any case), or None."""
    if not headers:
        return None
    given = headers.get(REQUEST_ID_HEADER)
    if given is None and type(headers) is dict:  # requests' CaseInsensitiveDict.get already ignores case
        given = next((v for k, v in headers.items() if k.lower() == "x-request-id"), None)
    return given


def _wrapped(request: Callable[..., Any], session: Any) -> Callable[..., Any]:
    # FastHttpSession has no session-wide headers; a requests.Session has (checked per request,
    # since a locustfile may set its own id there at any time). Decided once, not per request.
    session_headers = hasattr(session, "headers")
    next_id = _IDS.next

    def request_with_id(
        method: str, url: str, *args: Any, headers: Any = None, context: Any = None, **kwargs: Any
    ) -> Any:
        given = _own_id(headers) if headers else None
        if given is None:
            if session_headers and _own_id(session.headers) is not None:
                # the locustfile sets its own on the session
                return request(method, url, *args, headers=headers, context=context or {}, **kwargs)
            given = next_id()
            headers = {**headers, REQUEST_ID_HEADER: given} if headers else {REQUEST_ID_HEADER: given}
        else:
            given = str(given)
        context = {**context, REQUEST_ID_KEY: given} if context else {REQUEST_ID_KEY: given}
        return request(method, url, *args, headers=headers, context=context, **kwargs)

    return request_with_id


def with_request_ids(namespace: dict[str, object], cls: type[User]) -> None:
    """Add to a subclass `namespace` of `cls` an `__init__` that gives its client request ids."""

    def __init__(self: User, *args: Any, **kwargs: Any) -> None:
        cls.__init__(self, *args, **kwargs)
        client = getattr(self, "client", None)
        if client is not None and callable(getattr(client, "request", None)):
            client.request = _wrapped(client.request, client)

    namespace["__init__"] = __init__


class RequestTape(EventListening):
    """Bounded record of requests that carried an id; local, or merged from workers on the master.

    No lock: Locust runs every user and listener in greenlets of one OS thread, and none of
    these methods yields, so each runs whole; `drain` swaps the deque in one assignment.
    """

    def __init__(self, *, clock: Callable[[], float], per_second: int = 200, capacity: int = 200_000) -> None:
        self._clock = clock
        self.per_second = per_second
        self.records: deque[TapedRequest] = deque(maxlen=capacity)
        self.skipped = 0  # over `per_second`
        self._second = -1
        self._in_second = 0
        self._pending: list[TapedRequest] = []
        self._forward = False
        self._events: Events | None = None

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response: Any = None,
        context: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        """Keep one completed request that carried an id (the `request` event's signature)."""
        request_id = context.get(REQUEST_ID_KEY) if context else None
        if request_id is None or response_time is None:
            return
        now = self._clock()
        second = int(now)
        if second != self._second:
            self._second, self._in_second = second, 0
        elif self._in_second >= self.per_second:
            self.skipped += 1
            return
        self._in_second += 1
        status = getattr(response, "status_code", None)
        record = (now, str(request_id), request_type, name, float(response_time), status or None)
        (self._pending if self._forward else self.records).append(record)

    def drain(self) -> list[TapedRequest]:
        """Everything recorded so far, oldest first, and forget it."""
        records, self.records = self.records, deque(maxlen=self.records.maxlen)
        return list(records)

    def _on_report_to_master(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        pending, self._pending = self._pending, []
        data[REPORT_KEY] = [list(r) for r in pending]

    def _on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        rows = data.get(REPORT_KEY) or []
        for ts, request_id, method, name, ms, status in rows:
            self.records.append((float(ts), str(request_id), str(method), str(name), float(ms), status))


TAPE = RequestTape(clock=time.time)
