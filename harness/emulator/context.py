"""What the emulator's HTTP handlers share: the API context, fault rules, log sessions, small helpers.

`ApiContext` holds the controller (apps and their runtimes), the bearer token,
the GCRA bucket, pending injected faults, the request journal and the log
sessions; the aiohttp application carries it under `CONTEXT`.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web

from harness.emulator.api_error import ApiError
from harness.emulator.control import Controller
from harness.emulator.logs import LogSubscription
from harness.emulator.models import App
from harness.emulator.pipelines import PipelineStore
from harness.emulator.ranges import Key, paginate, parse_range
from harness.emulator.ratelimit import GcraBucket

__all__ = [
    "ADMIN_PREFIX",
    "CONTEXT",
    "FAULT_MESSAGES",
    "FAULT_STATUSES",
    "LOGPLEX_PREFIX",
    "ApiContext",
    "FaultRule",
    "Handler",
    "LogSession",
    "app_of",
    "context_of",
    "error_response",
    "json_body",
    "paged",
]

ADMIN_PREFIX = "/__emulator/"
LOGPLEX_PREFIX = "/logplex/"
JOURNAL_MAX = 10_000
FAULT_STATUSES = {500: "internal_server_error", 503: "internal_server_error", 429: "rate_limit"}
FAULT_MESSAGES = {
    500: "Internal server error (injected by the emulator).",
    503: "API is unavailable (injected by the emulator).",
    429: "Your account reached the API rate limit (injected by the emulator).",
}
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(kw_only=True)
class FaultRule:
    """The next `remaining` matching API calls answer `status` (method/path prefix optional)."""

    remaining: int
    status: int
    method: str | None = None
    path_prefix: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to a request."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)


@dataclass(frozen=True, kw_only=True)
class LogSession:
    """What `POST /apps/{app}/log-sessions` asked for; served at `/logplex/sessions/{id}`."""

    id: str
    app_id: str
    dyno: str | None
    source: str | None
    lines: int
    tail: bool
    created_at: datetime


@dataclass(kw_only=True)
class ApiContext:
    """Everything the handlers share: the controller, the token, the bucket, faults, journal, sessions."""

    controller: Controller
    token: str
    ca_file: str = ""  # the routers' CA certificate (PEM file), for `GET /__emulator/tls`
    builds: dict[str, Any] = field(default_factory=dict)  # api_builds.BuildRecord by id
    background: set[asyncio.Task[None]] = field(default_factory=set)  # running builds
    bucket: GcraBucket = field(default_factory=GcraBucket)
    faults: list[FaultRule] = field(default_factory=list)
    frozen_until: float = 0.0
    frozen_only: FaultRule | None = None  # a freeze of matching requests only (remaining unused)
    journal: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=JOURNAL_MAX))
    journal_seq: int = 0
    sessions: dict[str, LogSession] = field(default_factory=dict)
    subscriptions: set[LogSubscription] = field(default_factory=set)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    pipelines: PipelineStore = field(init=False)  # pipelines, couplings, promotions (api_pipelines.py)

    def __post_init__(self) -> None:
        self.pipelines = PipelineStore(self.controller.platform)

    def freeze_wait_s(self, method: str, path: str, now: float) -> float:
        """How long a request must hang (an API freeze, possibly of matching requests only)."""
        if self.frozen_only is not None and not self.frozen_only.matches(method, path):
            return 0.0
        return self.frozen_until - now

    def take_fault(self, method: str, path: str) -> int | None:
        """The status of the first matching injected fault (consumed), if any."""
        for rule in self.faults:
            if rule.remaining > 0 and rule.matches(method, path):
                rule.remaining -= 1
                self.faults = [r for r in self.faults if r.remaining > 0]
                return rule.status
        return None

    async def close_streams(self) -> None:
        """End every tailing log stream (server shutdown)."""
        self.closing.set()
        for subscription in list(self.subscriptions):
            await subscription.aclose()


CONTEXT = web.AppKey("context", ApiContext)


def error_response(status: int, error_id: str, message: str) -> web.Response:
    """A Heroku error answer: `{id, message}` with that status."""
    return web.json_response({"id": error_id, "message": message}, status=status)


def context_of(request: web.Request) -> ApiContext:
    """The shared context of the application serving `request`."""
    return request.app[CONTEXT]


async def json_body(request: web.Request) -> dict[str, Any]:
    """The JSON object in the body ({} when empty); 400 for malformed JSON, 422 for a non-object."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(400, "bad_request", "Invalid JSON in the request body.") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_params", "The request body must be a JSON object.")
    return data


def app_of(request: web.Request) -> App:
    """The app named (by id or name) in the path; 404 "Couldn't find that app." otherwise."""
    return context_of(request).controller.platform.find_app(request.match_info["app"])


def paged(
    request: web.Request,
    items: Sequence[T],
    fields: Sequence[str],
    key: Callable[[T, str], Key],
    render_one: Callable[[T], Any],
) -> web.Response:
    """One page of a list, with Content-Range (and Next-Range + 206 when truncated)."""
    spec = parse_range(request.headers.get("Range"), fields)
    page = paginate(items, spec, key)
    response = web.json_response([render_one(item) for item in page.items], status=page.status)
    response.headers["Content-Range"] = page.content_range
    if page.next_range:
        response.headers["Next-Range"] = page.next_range
    response.headers["Accept-Ranges"] = ", ".join(fields)
    return response
