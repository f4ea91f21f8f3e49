"""The emulator's Platform API: an aiohttp application speaking api.heroku.com's JSON (NOTES §1, §2).

Conventions enforced on every Platform API request, in this order:

1. `Request-Id` is echoed (or a uuid4 is generated) on every answer;
2. `Authorization: Bearer <token>`, else 401 `unauthorized`;
3. `Accept: application/vnd.heroku+json; version=3` (or `version=3.sdk`), else 406 `not_acceptable`;
4. an API freeze (fault injection) holds the request, then lets it through;
5. the GCRA bucket is charged (not for `GET /account/rate-limits`); empty -> 429 `rate_limit`;
   `RateLimit-Remaining` is sent on every authenticated answer;
6. an injected fault (next N calls fail with 500/503/429) answers instead of the handler.

Error bodies are `{id, message}`. Lists honour `Range` (see `ranges.py`).
Every request (auth header removed) goes to a journal that `GET
/__emulator/requests` returns, so client tests can check their requests
against the schema. The admin endpoints under `/__emulator/` (same bearer
token, no Accept check, never charged or journaled) are the fault-injection
knobs; `/logplex/sessions/{id}` serves log sessions (a capability URL, like
logplex: no token).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import re
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web

from harness.emulator import render
from harness.emulator.control import Controller
from harness.emulator.logs import LogSubscription
from harness.emulator.ranges import Key, paginate, parse_range
from harness.emulator.ratelimit import GcraBucket
from harness.emulator.state import DYNO_SIZES, ApiError, App, find_dyno_size

__all__ = ["ADMIN_PREFIX", "ApiContext", "FaultRule", "LogSession", "create_api"]

ADMIN_PREFIX = "/__emulator/"
LOGPLEX_PREFIX = "/logplex/"
JOURNAL_MAX = 10_000
DEFAULT_LOG_LINES = 100
MAX_LOG_LINES = 1500
ACCEPT_PATTERN = re.compile(r"application/vnd\.heroku\+json\s*;\s*version=(3|3\.sdk)\s*(?:[;,]|$)")
FAULT_STATUSES = {500: "internal_server_error", 503: "internal_server_error", 429: "rate_limit"}
FAULT_MESSAGES = {
    500: "Internal server error (injected by the emulator).",
    503: "API is unavailable (injected by the emulator).",
    429: "Your account reached the API rate limit (injected by the emulator).",
}
NOT_FOUND_ENDPOINT = (
    "The requested API endpoint was not found. Are you using the right HTTP verb (i.e. `GET` vs. `POST`), "
    "and did you specify your intended version with the `Accept` header?"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")


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
    bucket: GcraBucket = field(default_factory=GcraBucket)
    faults: list[FaultRule] = field(default_factory=list)
    frozen_until: float = 0.0
    journal: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=JOURNAL_MAX))
    journal_seq: int = 0
    sessions: dict[str, LogSession] = field(default_factory=dict)
    subscriptions: set[LogSubscription] = field(default_factory=set)
    closing: asyncio.Event = field(default_factory=asyncio.Event)

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


def _error(status: int, error_id: str, message: str) -> web.Response:
    return web.json_response({"id": error_id, "message": message}, status=status)


def _ctx(request: web.Request) -> ApiContext:
    return request.app[CONTEXT]


def _authorized(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


# -- middleware -----------------------------------------------------------------------------


@web.middleware
async def conventions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request-Id, auth, Accept, freeze, rate limit, faults, error bodies, journal (see module doc)."""
    request_id = request.headers.get("Request-Id") or str(uuid.uuid4())
    path = request.path
    if path.startswith(LOGPLEX_PREFIX):
        response = await _guarded(request, handler)
    elif path.startswith(ADMIN_PREFIX):
        response = await _admin_request(request, handler)
    else:
        response = await _platform_request(request, handler)
        await _journal(request, response, request_id)
    if not response.prepared:  # a log stream has sent its headers already
        response.headers["Request-Id"] = request_id
    return response


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run a handler; `ApiError` and aiohttp's 404/405 become Heroku error bodies."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _error(exc.status, exc.error_id, exc.message)
    except web.HTTPNotFound:
        return _error(404, "not_found", NOT_FOUND_ENDPOINT)
    except web.HTTPMethodNotAllowed:
        return _error(404, "not_found", NOT_FOUND_ENDPOINT)


async def _admin_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _authorized(request, _ctx(request).token):
        return _error(401, "unauthorized", "Invalid credentials provided.")
    return await _guarded(request, handler)


async def _platform_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = _ctx(request)
    if not _authorized(request, ctx.token):
        return _error(401, "unauthorized", "Invalid credentials provided.")
    if not ACCEPT_PATTERN.search(request.headers.get("Accept", "")):
        response = _error(
            406,
            "not_acceptable",
            "Please specify a version along with the MIME type. "
            "For example, `Accept: application/vnd.heroku+json; version=3`.",
        )
        response.headers["RateLimit-Remaining"] = str(ctx.bucket.remaining())
        return response
    wait_s = ctx.frozen_until - time.monotonic()
    if wait_s > 0:
        await asyncio.sleep(wait_s)
    return await _charged(request, handler, ctx)


async def _charged(request: web.Request, handler: Handler, ctx: ApiContext) -> web.StreamResponse:
    free = request.method == "GET" and request.path.rstrip("/") == "/account/rate-limits"
    if not free:
        allowed, _ = ctx.bucket.take()
        if not allowed:
            refused = _error(
                429,
                "rate_limit",
                "Your account reached the API rate limit. "
                "Please wait a few minutes before making new requests.",
            )
            refused.headers["RateLimit-Remaining"] = "0"
            return refused
    fault = ctx.take_fault(request.method, request.path)
    response: web.StreamResponse
    if fault is not None:
        response = _error(
            fault,
            FAULT_STATUSES.get(fault, "internal_server_error"),
            FAULT_MESSAGES.get(fault, f"Injected failure {fault}."),
        )
    else:
        response = await _guarded(request, handler)
    response.headers["RateLimit-Remaining"] = "0" if fault == 429 else str(ctx.bucket.remaining())
    return response


async def _journal(request: web.Request, response: web.StreamResponse, request_id: str) -> None:
    ctx = _ctx(request)
    raw = await request.read()  # cached by aiohttp: the handler may have read it already
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    ctx.journal_seq += 1
    ctx.journal.append(
        {
            "seq": ctx.journal_seq,
            "at": render.iso(datetime.now(UTC)),
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "headers": {k: v for k, v in request.headers.items() if k.lower() != "authorization"},
            "body": body,
            "status": response.status,
            "request_id": request_id,
        }
    )


# -- helpers ----------------------------------------------------------------------------------


async def _body(request: web.Request) -> dict[str, Any]:
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


def _app(request: web.Request) -> App:
    return _ctx(request).controller.platform.find_app(request.match_info["app"])


def _paged(
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


def _attr_key(item: Any, name: str) -> Key:
    value = getattr(item, name)
    return value if isinstance(value, int) else str(value)


def _accepted() -> web.Response:
    return web.json_response({}, status=202)


# -- account, apps -------------------------------------------------------------------------------


async def get_account(request: web.Request) -> web.Response:
    """`GET /account`."""
    return web.json_response(render.account_json(_ctx(request).controller.platform.account))


async def get_rate_limits(request: web.Request) -> web.Response:
    """`GET /account/rate-limits` (free)."""
    return web.json_response({"remaining": _ctx(request).bucket.remaining()})


async def list_apps(request: web.Request) -> web.Response:
    """`GET /apps` (Range fields id, name)."""
    platform = _ctx(request).controller.platform
    return _paged(
        request,
        list(platform.apps.values()),
        ["id", "name"],
        _attr_key,
        lambda app: render.app_json(app, platform),
    )


async def create_app(request: web.Request) -> web.Response:
    """`POST /apps {name, region, stack}` -> 201, a blank app."""
    body = await _body(request)
    controller = _ctx(request).controller
    name, region, stack = body.get("name"), body.get("region"), body.get("stack")
    if any(v is not None and not isinstance(v, str) for v in (name, region, stack)):
        raise ApiError(422, "invalid_params", "name, region and stack must be strings.")
    app = controller.create_app(name, region=region, stack=stack)
    return web.json_response(render.app_json(app, controller.platform), status=201)


async def get_app(request: web.Request) -> web.Response:
    """`GET /apps/{app}`."""
    return web.json_response(render.app_json(_app(request), _ctx(request).controller.platform))


async def update_app(request: web.Request) -> web.Response:
    """`PATCH /apps/{app} {maintenance, name, build_stack}`."""
    body = await _body(request)
    app = _app(request)
    maintenance, name = body.get("maintenance"), body.get("name")
    if maintenance is not None and not isinstance(maintenance, bool):
        raise ApiError(422, "invalid_params", "maintenance must be true or false.")
    if name is not None and not isinstance(name, str):
        raise ApiError(422, "invalid_params", "name must be a string.")
    controller = _ctx(request).controller
    controller.set_maintenance(app, maintenance=maintenance, name=name)
    return web.json_response(render.app_json(app, controller.platform))


async def delete_app(request: web.Request) -> web.Response:
    """`DELETE /apps/{app}`: stops its dynos, returns the app as it was."""
    app = _app(request)
    controller = _ctx(request).controller
    rendered = render.app_json(app, controller.platform)
    await controller.delete_app(app)
    return web.json_response(rendered)


# -- formation, dynos ------------------------------------------------------------------------------


def _formation_key(item: Any, name: str) -> Key:
    return str(item.type if name in ("type", "name") else item.id)


async def list_formation(request: web.Request) -> web.Response:
    """`GET /apps/{app}/formation` (Range fields id, type, name)."""
    app = _app(request)
    return _paged(
        request,
        list(app.formation.values()),
        ["id", "type", "name"],
        _formation_key,
        lambda f: render.formation_json(app, f),
    )


async def get_formation(request: web.Request) -> web.Response:
    """`GET /apps/{app}/formation/{id|type}`."""
    app = _app(request)
    formation = _ctx(request).controller.platform.find_formation(app, request.match_info["formation"])
    return web.json_response(render.formation_json(app, formation))


async def batch_update_formation(request: web.Request) -> web.Response:
    """`PATCH /apps/{app}/formation {updates: [...]}`: all or nothing."""
    app = _app(request)
    updates = (await _body(request)).get("updates")
    if not isinstance(updates, list) or not all(isinstance(u, dict) for u in updates):
        raise ApiError(422, "invalid_params", "Require params: updates (a list of {type, quantity, size}).")
    changed = await _ctx(request).controller.update_formation(app, updates)
    return web.json_response([render.formation_json(app, f) for f in changed])


async def update_formation(request: web.Request) -> web.Response:
    """`PATCH /apps/{app}/formation/{id|type} {quantity, size | dyno_size}`."""
    app = _app(request)
    update = dict(await _body(request), type=request.match_info["formation"])
    changed = await _ctx(request).controller.update_formation(app, [update])
    return web.json_response(render.formation_json(app, changed[0]))


async def list_dynos(request: web.Request) -> web.Response:
    """`GET /apps/{app}/dynos` (Range fields id, name)."""
    app = _app(request)
    dynos = _ctx(request).controller.dynos(app)
    return _paged(request, dynos, ["id", "name"], _attr_key, lambda d: render.dyno_json(app, d))


async def get_dyno(request: web.Request) -> web.Response:
    """`GET /apps/{app}/dynos/{id|name}`."""
    app = _app(request)
    dyno = _ctx(request).controller.find_dyno(app, request.match_info["dyno"])
    return web.json_response(render.dyno_json(app, dyno))


async def restart_all(request: web.Request) -> web.Response:
    """`DELETE /apps/{app}/dynos` -> 202 {}."""
    await _ctx(request).controller.restart(_app(request))
    return _accepted()


async def restart_dyno(request: web.Request) -> web.Response:
    """`DELETE /apps/{app}/dynos/{id|name}` -> 202 {}."""
    app = _app(request)
    controller = _ctx(request).controller
    dyno = controller.find_dyno(app, request.match_info["dyno"])
    await controller.restart(app, dyno_name=dyno.name)
    return _accepted()


async def restart_type(request: web.Request) -> web.Response:
    """`DELETE /apps/{app}/formations/{type}` -> 202 {}."""
    await _ctx(request).controller.restart(_app(request), process_type=request.match_info["type"])
    return _accepted()


# -- releases, slugs, config vars, add-ons, sizes ---------------------------------------------------


async def list_releases(request: web.Request) -> web.Response:
    """`GET /apps/{app}/releases` (Range fields version, id)."""
    app = _app(request)
    platform = _ctx(request).controller.platform
    return _paged(
        request, app.releases, ["version", "id"], _attr_key, lambda r: render.release_json(app, r, platform)
    )


async def get_release(request: web.Request) -> web.Response:
    """`GET /apps/{app}/releases/{id|version}`."""
    app = _app(request)
    platform = _ctx(request).controller.platform
    release = platform.find_release(app, request.match_info["release"])
    return web.json_response(render.release_json(app, release, platform))


async def create_release(request: web.Request) -> web.Response:
    """`POST /apps/{app}/releases {slug, description}` (deploy) or `{release}` (rollback) -> 201."""
    app = _app(request)
    body = await _body(request)
    controller = _ctx(request).controller
    if isinstance(body.get("release"), str):
        release = await controller.rollback(app, body["release"])
    elif isinstance(body.get("slug"), str):
        description = body.get("description")
        release = await controller.deploy(
            app, body["slug"], description if isinstance(description, str) else None
        )
    else:
        raise ApiError(422, "invalid_params", "Require params: slug (or release, to roll back).")
    return web.json_response(render.release_json(app, release, controller.platform), status=201)


async def get_release_config(request: web.Request) -> web.Response:
    """`GET /apps/{app}/releases/{id|version}/config-vars`."""
    app = _app(request)
    release = _ctx(request).controller.platform.find_release(app, request.match_info["release"])
    return web.json_response(dict(release.config))


async def get_slug(request: web.Request) -> web.Response:
    """`GET /apps/{app}/slugs/{id}`."""
    app = _app(request)
    slug = _ctx(request).controller.platform.find_slug(app, request.match_info["slug"])
    return web.json_response(render.slug_json(slug, app.stack))


async def get_config(request: web.Request) -> web.Response:
    """`GET /apps/{app}/config-vars`."""
    return web.json_response(dict(_app(request).config))


async def update_config(request: web.Request) -> web.Response:
    """`PATCH /apps/{app}/config-vars`: a change makes a release and restarts every dyno."""
    app = _app(request)
    await _ctx(request).controller.update_config(app, await _body(request))
    return web.json_response(dict(app.config))


async def list_addons(request: web.Request) -> web.Response:
    """`GET /apps/{app}/addons` (Range fields id, name)."""
    app = _app(request)
    return _paged(request, app.addons, ["id", "name"], _attr_key, lambda a: render.addon_json(app, a))


async def list_dyno_sizes(request: web.Request) -> web.Response:
    """`GET /dyno-sizes` (also `/apps/{app}/available-dyno-sizes`, which checks the app)."""
    if "app" in request.match_info:
        _app(request)
    return _paged(request, list(DYNO_SIZES), ["id", "name"], _attr_key, render.dyno_size_json)


async def get_dyno_size(request: web.Request) -> web.Response:
    """`GET /dyno-sizes/{id|name}` (case-insensitive name)."""
    try:
        size = find_dyno_size(request.match_info["size"])
    except ApiError:
        raise ApiError(404, "not_found", "Couldn't find that dyno size.") from None
    return web.json_response(render.dyno_size_json(size))


# -- log sessions ---------------------------------------------------------------------------------


async def create_log_session(request: web.Request) -> web.Response:
    """`POST /apps/{app}/log-sessions {dyno|dyno_name|type, lines, source, tail}` -> 201."""
    app = _app(request)
    body = await _body(request)
    dyno = body.get("dyno_name") or body.get("dyno") or body.get("type")
    lines, source, tail = body.get("lines", DEFAULT_LOG_LINES), body.get("source"), body.get("tail", False)
    if isinstance(lines, str) and lines.isdigit():
        lines = int(lines)
    if not isinstance(lines, int) or isinstance(lines, bool) or not 0 <= lines <= MAX_LOG_LINES:
        raise ApiError(422, "invalid_params", f"lines must be an integer from 0 to {MAX_LOG_LINES}.")
    if not all(v is None or isinstance(v, str) for v in (dyno, source)) or not isinstance(tail, bool):
        raise ApiError(422, "invalid_params", "dyno and source must be strings, tail true or false.")
    session = LogSession(
        id=str(uuid.uuid4()),
        app_id=app.id,
        dyno=dyno,
        source=source,
        lines=lines,
        tail=tail,
        created_at=datetime.now(UTC),
    )
    _ctx(request).sessions[session.id] = session
    url = f"{request.url.origin()}{LOGPLEX_PREFIX}sessions/{session.id}"
    return web.json_response(render.log_session_json(session.id, url, session.created_at), status=201)


async def stream_log_session(request: web.Request) -> web.StreamResponse:
    """The session's recent lines, then (with `tail`) new ones until the client or the server goes.

    `Accept: text/event-stream` gets Server-Sent Events (`id:` / `data:`), anything else plain lines.
    """
    ctx = _ctx(request)
    session = ctx.sessions.get(request.match_info["session"])
    if session is None:
        return web.Response(status=404, text="Unknown or expired log session.\n")
    app = ctx.controller.platform.apps.get(session.app_id)
    if app is None:
        return web.Response(status=404, text="The app of this log session was deleted.\n")
    buffer = ctx.controller.log_buffer(app)
    sse = "text/event-stream" in request.headers.get("Accept", "")
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream" if sse else "text/plain", "Cache-Control": "no-cache"}
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    subscription = buffer.subscribe(source=session.source, dyno=session.dyno) if session.tail else None
    counter = 0

    async def send(line: str) -> None:
        nonlocal counter
        counter += 1
        await response.write((f"id: {counter}\ndata: {line}\n\n" if sse else f"{line}\n").encode())

    try:
        for line in buffer.recent(session.lines, source=session.source, dyno=session.dyno):
            await send(line)
        if subscription is not None and not ctx.closing.is_set():
            ctx.subscriptions.add(subscription)
            async for line in subscription:
                await send(line)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        if subscription is not None:
            ctx.subscriptions.discard(subscription)
            await subscription.aclose()
    await response.write_eof()
    return response


# -- fault injection (admin) -----------------------------------------------------------------------


def _number(body: dict[str, Any], name: str, *, minimum: float = 0) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ApiError(422, "invalid_params", f"{name} must be a number >= {minimum:g}.")
    return float(value)


async def admin_fail_next(request: web.Request) -> web.Response:
    """`POST /__emulator/faults {count, status, method?, path?}`: the next matching API calls fail."""
    body = await _body(request)
    count, status = int(_number(body, "count", minimum=1)), int(_number(body, "status"))
    if status not in FAULT_STATUSES:
        raise ApiError(422, "invalid_params", f"status must be one of {sorted(FAULT_STATUSES)}.")
    method, path = body.get("method"), body.get("path")
    if not all(v is None or isinstance(v, str) for v in (method, path)):
        raise ApiError(422, "invalid_params", "method and path must be strings (or left out).")
    ctx = _ctx(request)
    ctx.faults.append(FaultRule(remaining=count, status=status, method=method, path_prefix=path))
    return web.json_response({"pending": [vars(rule) for rule in ctx.faults]}, status=201)


async def admin_clear_faults(request: web.Request) -> web.Response:
    """`DELETE /__emulator/faults`: no more injected failures (also ends a freeze)."""
    ctx = _ctx(request)
    ctx.faults.clear()
    ctx.frozen_until = 0.0
    return web.json_response({"pending": []})


async def admin_freeze(request: web.Request) -> web.Response:
    """`POST /__emulator/freeze {seconds}`: API requests hang until then, then answer."""
    seconds = _number(await _body(request), "seconds")
    _ctx(request).frozen_until = time.monotonic() + seconds
    return web.json_response({"frozen_s": seconds})


async def admin_rate_limit(request: web.Request) -> web.Response:
    """`POST /__emulator/rate-limit {remaining}`: drain (or refill) the bucket to that count."""
    remaining = int(_number(await _body(request), "remaining"))
    return web.json_response({"remaining": _ctx(request).bucket.drain_to(remaining)})


async def admin_requests(request: web.Request) -> web.Response:
    """`GET /__emulator/requests[?since=SEQ]`: the journal of Platform API requests, oldest first."""
    since = int(request.query.get("since", "0") or 0)
    return web.json_response([entry for entry in _ctx(request).journal if entry["seq"] > since])


async def admin_clear_requests(request: web.Request) -> web.Response:
    """`DELETE /__emulator/requests`: empty the journal (sequence numbers keep counting)."""
    _ctx(request).journal.clear()
    return web.json_response([])


async def admin_crash(request: web.Request) -> web.Response:
    """`POST /__emulator/apps/{app}/dynos/{dyno}/crash`: SIGKILL that dyno's process."""
    app = _app(request)
    controller = _ctx(request).controller
    dyno = controller.find_dyno(app, request.match_info["dyno"])
    controller.runtime(app).crash(dyno.name)
    return web.json_response({"crashed": dyno.name})


async def admin_fail_boots(request: web.Request) -> web.Response:
    """`POST /__emulator/apps/{app}/fail-next-boots {count}`: the next boots exit at once."""
    count = int(_number(await _body(request), "count"))
    _ctx(request).controller.runtime(_app(request)).fail_next_boots(count)
    return web.json_response({"fail_next_boots": count})


async def admin_settings(request: web.Request) -> web.Response:
    """`PATCH /__emulator/apps/{app}/settings {boot_delay_s, router_timeout_s, ...}`."""
    settings = _ctx(request).controller.update_settings(_app(request), await _body(request))
    return web.json_response(dataclasses.asdict(settings))


async def admin_processes(request: web.Request) -> web.Response:
    """`GET /__emulator/apps/{app}/processes`: every dyno with its pid and port (for cleanup checks)."""
    app = _app(request)
    return web.json_response(
        [
            {
                "name": d.name,
                "state": d.state.value,
                "pid": d.pid,
                "port": d.port,
                "boot_s": d.boot_s,
                "release_version": d.release.version,
            }
            for d in _ctx(request).controller.dynos(app)
        ]
    )


# -- the application -----------------------------------------------------------------------------

_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/account", get_account),
    ("GET", "/account/rate-limits", get_rate_limits),
    ("GET", "/apps", list_apps),
    ("POST", "/apps", create_app),
    ("GET", "/apps/{app}", get_app),
    ("PATCH", "/apps/{app}", update_app),
    ("DELETE", "/apps/{app}", delete_app),
    ("GET", "/apps/{app}/formation", list_formation),
    ("PATCH", "/apps/{app}/formation", batch_update_formation),
    ("GET", "/apps/{app}/formation/{formation}", get_formation),
    ("PATCH", "/apps/{app}/formation/{formation}", update_formation),
    ("GET", "/apps/{app}/dynos", list_dynos),
    ("DELETE", "/apps/{app}/dynos", restart_all),
    ("GET", "/apps/{app}/dynos/{dyno}", get_dyno),
    ("DELETE", "/apps/{app}/dynos/{dyno}", restart_dyno),
    ("DELETE", "/apps/{app}/formations/{type}", restart_type),
    ("GET", "/apps/{app}/releases", list_releases),
    ("POST", "/apps/{app}/releases", create_release),
    ("GET", "/apps/{app}/releases/{release}", get_release),
    ("GET", "/apps/{app}/releases/{release}/config-vars", get_release_config),
    ("GET", "/apps/{app}/slugs/{slug}", get_slug),
    ("GET", "/apps/{app}/config-vars", get_config),
    ("PATCH", "/apps/{app}/config-vars", update_config),
    ("GET", "/apps/{app}/addons", list_addons),
    ("GET", "/apps/{app}/available-dyno-sizes", list_dyno_sizes),
    ("GET", "/dyno-sizes", list_dyno_sizes),
    ("GET", "/dyno-sizes/{size}", get_dyno_size),
    ("POST", "/apps/{app}/log-sessions", create_log_session),
    ("GET", LOGPLEX_PREFIX + "sessions/{session}", stream_log_session),
    ("POST", ADMIN_PREFIX + "faults", admin_fail_next),
    ("DELETE", ADMIN_PREFIX + "faults", admin_clear_faults),
    ("POST", ADMIN_PREFIX + "freeze", admin_freeze),
    ("POST", ADMIN_PREFIX + "rate-limit", admin_rate_limit),
    ("GET", ADMIN_PREFIX + "requests", admin_requests),
    ("DELETE", ADMIN_PREFIX + "requests", admin_clear_requests),
    ("POST", ADMIN_PREFIX + "apps/{app}/dynos/{dyno}/crash", admin_crash),
    ("POST", ADMIN_PREFIX + "apps/{app}/fail-next-boots", admin_fail_boots),
    ("PATCH", ADMIN_PREFIX + "apps/{app}/settings", admin_settings),
    ("GET", ADMIN_PREFIX + "apps/{app}/processes", admin_processes),
]


def create_api(context: ApiContext) -> web.Application:
    """The aiohttp application serving the Platform API, log sessions and the admin knobs."""
    application = web.Application(middlewares=[conventions])
    application[CONTEXT] = context
    for method, path, handler in _ROUTES:
        application.router.add_route(method, path, handler)
    return application
