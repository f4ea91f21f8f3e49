"""Fault injection: the admin endpoints under `/__emulator/` (bearer token, no Accept check, free).

- `POST /faults {count, status, method?, path?}`: the next matching API calls answer 500/503/429;
  `DELETE /faults` drops them and ends a freeze;
- `POST /freeze {seconds, method?, path?}`: API requests (or only matching ones) hang until then;
- `POST /rate-limit {remaining}`: set the bucket to that many calls;
- `GET /requests[?since=SEQ]`, `DELETE /requests`: the journal of Platform API requests;
- `POST /apps/{app}/dynos/{dyno}/crash`, `POST /apps/{app}/fail-next-boots {count}`,
  `PATCH /apps/{app}/settings {RuntimeSettings fields}`, `GET /apps/{app}/processes` (pids, ports);
- `GET /tls`: `{ca_file, ca_pem}`, the CA that signs the routers' HTTPS certificates (public), so a
  client on this machine can trust the emulator's apps and nothing else;
- `POST /apps/{app}/logs {message, source?, dyno?}`: put one line into the app's log (default
  `heroku[router]`), e.g. a malformed router line, as a log stream would meet one.

`EmulatorProcess` wraps each of them in a method.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from harness.emulator.api_error import ApiError
from harness.emulator.context import (
    ADMIN_PREFIX,
    FAULT_STATUSES,
    FaultRule,
    Handler,
    app_of,
    context_of,
    json_body,
)

__all__ = ["ROUTES"]


def _number(body: dict[str, Any], name: str, *, minimum: float = 0) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ApiError(422, "invalid_params", f"{name} must be a number >= {minimum:g}.")
    return float(value)


async def admin_fail_next(request: web.Request) -> web.Response:
    """`POST /__emulator/faults {count, status, method?, path?}`: the next matching API calls fail."""
    body = await json_body(request)
    count, status = int(_number(body, "count", minimum=1)), int(_number(body, "status"))
    if status not in FAULT_STATUSES:
        raise ApiError(422, "invalid_params", f"status must be one of {sorted(FAULT_STATUSES)}.")
    method, path = body.get("method"), body.get("path")
    if not all(v is None or isinstance(v, str) for v in (method, path)):
        raise ApiError(422, "invalid_params", "method and path must be strings (or left out).")
    ctx = context_of(request)
    ctx.faults.append(FaultRule(remaining=count, status=status, method=method, path_prefix=path))
    return web.json_response({"pending": [vars(rule) for rule in ctx.faults]}, status=201)


async def admin_clear_faults(request: web.Request) -> web.Response:
    """`DELETE /__emulator/faults`: no more injected failures (also ends a freeze)."""
    ctx = context_of(request)
    ctx.faults.clear()
    ctx.frozen_until = 0.0
    ctx.frozen_only = None
    return web.json_response({"pending": []})


async def admin_freeze(request: web.Request) -> web.Response:
    """`POST /__emulator/freeze {seconds, method?, path?}`: API requests (only the matching ones, if
    given) hang until then, then answer."""
    body = await json_body(request)
    seconds = _number(body, "seconds")
    method, path = body.get("method"), body.get("path")
    if not all(v is None or isinstance(v, str) for v in (method, path)):
        raise ApiError(422, "invalid_params", "method and path must be strings (or left out).")
    ctx = context_of(request)
    only = method is not None or path is not None
    ctx.frozen_only = FaultRule(remaining=0, status=0, method=method, path_prefix=path) if only else None
    ctx.frozen_until = time.monotonic() + seconds
    return web.json_response({"frozen_s": seconds})


async def admin_rate_limit(request: web.Request) -> web.Response:
    """`POST /__emulator/rate-limit {remaining}`: drain (or refill) the bucket to that count."""
    remaining = int(_number(await json_body(request), "remaining"))
    return web.json_response({"remaining": context_of(request).bucket.drain_to(remaining)})


async def admin_requests(request: web.Request) -> web.Response:
    """`GET /__emulator/requests[?since=SEQ]`: the journal of Platform API requests, oldest first."""
    since = int(request.query.get("since", "0") or 0)
    return web.json_response([entry for entry in context_of(request).journal if entry["seq"] > since])


async def admin_clear_requests(request: web.Request) -> web.Response:
    """`DELETE /__emulator/requests`: empty the journal (sequence numbers keep counting)."""
    context_of(request).journal.clear()
    return web.json_response([])


async def admin_crash(request: web.Request) -> web.Response:
    """`POST /__emulator/apps/{app}/dynos/{dyno}/crash`: SIGKILL that dyno's process."""
    app = app_of(request)
    controller = context_of(request).controller
    dyno = controller.find_dyno(app, request.match_info["dyno"])
    controller.runtime(app).crash(dyno.name)
    return web.json_response({"crashed": dyno.name})


async def admin_fail_boots(request: web.Request) -> web.Response:
    """`POST /__emulator/apps/{app}/fail-next-boots {count}`: the next boots exit at once."""
    count = int(_number(await json_body(request), "count"))
    context_of(request).controller.runtime(app_of(request)).fail_next_boots(count)
    return web.json_response({"fail_next_boots": count})


async def admin_settings(request: web.Request) -> web.Response:
    """`PATCH /__emulator/apps/{app}/settings {boot_delay_s, router_timeout_s, ...}`."""
    settings = context_of(request).controller.update_settings(app_of(request), await json_body(request))
    return web.json_response(dataclasses.asdict(settings))


async def admin_processes(request: web.Request) -> web.Response:
    """`GET /__emulator/apps/{app}/processes`: every dyno with its pid and port (for cleanup checks)."""
    app = app_of(request)
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
            for d in context_of(request).controller.dynos(app)
        ]
    )


async def admin_log_line(request: web.Request) -> web.Response:
    """`POST /__emulator/apps/{app}/logs {message, source="heroku", dyno="router"}`: append one line."""
    body = await json_body(request)
    fields = {
        "message": body.get("message"),
        "source": body.get("source", "heroku"),
        "dyno": body.get("dyno", "router"),
    }
    if not all(isinstance(v, str) and "\n" not in v for v in fields.values()):
        raise ApiError(422, "invalid_params", "message, source and dyno must be one-line strings.")
    buffer = context_of(request).controller.log_buffer(app_of(request))
    line = buffer.append(fields["source"], fields["dyno"], fields["message"])
    return web.json_response({"line": line})


async def admin_tls(request: web.Request) -> web.Response:
    """`GET /__emulator/tls`: where the routers' CA certificate is, and its PEM."""
    ca_file = context_of(request).ca_file
    pem = Path(ca_file).read_text(encoding="ascii") if ca_file else ""
    return web.json_response({"ca_file": ca_file, "ca_pem": pem})


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", ADMIN_PREFIX + "tls", admin_tls),
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
    ("POST", ADMIN_PREFIX + "apps/{app}/logs", admin_log_line),
]
