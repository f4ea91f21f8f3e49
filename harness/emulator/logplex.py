"""Log sessions: `POST /apps/{app}/log-sessions` and the loopback `logplex_url` that serves them.

The URL (`/logplex/sessions/{id}` on the API port) is a capability, like
logplex's: no token. It serves the session's recent lines and, with `tail`,
new ones as they are logged, as Server-Sent Events (`id:`/`data:`) when the
client accepts `text/event-stream`, else as plain lines.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from aiohttp import web

from harness.emulator import render
from harness.emulator.api_error import ApiError
from harness.emulator.context import LOGPLEX_PREFIX, Handler, LogSession, app_of, context_of, json_body

__all__ = ["DEFAULT_LOG_LINES", "MAX_LOG_LINES", "ROUTES", "create_log_session", "stream_log_session"]

DEFAULT_LOG_LINES = 100
MAX_LOG_LINES = 1500


async def create_log_session(request: web.Request) -> web.Response:
    """`POST /apps/{app}/log-sessions {dyno|dyno_name|type, lines, source, tail}` -> 201."""
    app = app_of(request)
    body = await json_body(request)
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
    context_of(request).sessions[session.id] = session
    url = f"{request.url.origin()}{LOGPLEX_PREFIX}sessions/{session.id}"
    return web.json_response(render.log_session_json(session.id, url, session.created_at), status=201)


async def stream_log_session(request: web.Request) -> web.StreamResponse:
    """The session's recent lines, then (with `tail`) new ones until the client or the server goes.

    `Accept: text/event-stream` gets Server-Sent Events (`id:` / `data:`), anything else plain lines.
    """
    ctx = context_of(request)
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


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/apps/{app}/log-sessions", create_log_session),
    ("GET", LOGPLEX_PREFIX + "sessions/{session}", stream_log_session),
]
