"""Platform API for one-off dynos: `POST /apps/{app}/dynos`, and the rendezvous stream of an attached one.

`POST /apps/{app}/dynos {command, attach, env, size, time_to_live}` -> 201,
the dyno as `GET /apps/{app}/dynos` lists it (type `run`), with `attach_url`
when `attach` is true. `GET /rendezvous/{secret}` (no token: the secret is the
capability, as Heroku's rendezvous URL is) streams the output as plain text
and ends with the exit-status marker line (see `control_oneoff.py`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from harness.emulator import render
from harness.emulator.api_error import ApiError
from harness.emulator.context import Handler, app_of, context_of, json_body
from harness.emulator.control_oneoff import RENDEZVOUS_PREFIX

__all__ = ["ROUTES"]


def _params(body: dict[str, Any]) -> tuple[str, bool, dict[str, str], str | None, float | None]:
    command, attach, env = body.get("command"), body.get("attach", False), body.get("env") or {}
    size, ttl = body.get("size"), body.get("time_to_live")
    if not isinstance(command, str) or not command.strip():
        raise ApiError(422, "invalid_params", "Require params: command.")
    if not isinstance(attach, bool):
        raise ApiError(422, "invalid_params", "attach must be true or false.")
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise ApiError(422, "invalid_params", "env must be an object of strings.")
    if size is not None and not isinstance(size, str):
        raise ApiError(422, "invalid_params", "size must be a dyno size name.")
    if ttl is not None and (not isinstance(ttl, int | float) or isinstance(ttl, bool) or ttl <= 0):
        raise ApiError(422, "invalid_params", "time_to_live must be a number of seconds > 0.")
    return command, attach, env, size, float(ttl) if ttl is not None else None


async def create_dyno(request: web.Request) -> web.Response:
    """`POST /apps/{app}/dynos`: a one-off dyno runs `command` (attached: see `attach_url`)."""
    app = app_of(request)
    command, attach, env, size, ttl = _params(await json_body(request))
    controller = context_of(request).controller
    oneoff = await controller.run_dyno(app, command, attach=attach, env=env, size=size, time_to_live_s=ttl)
    body = render.dyno_json(app, oneoff.info)
    if oneoff.secret is not None:
        body["attach_url"] = f"{request.url.origin()}{RENDEZVOUS_PREFIX}{oneoff.secret}"
    return web.json_response(body, status=201)


async def rendezvous(request: web.Request) -> web.StreamResponse:
    """`GET /rendezvous/{secret}`: the attached one-off's output from its start, then the exit marker."""
    oneoff = context_of(request).controller.find_attached(request.match_info["secret"])
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    async for chunk in oneoff.stream():
        await response.write(chunk.encode())
    await response.write_eof()
    return response


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/apps/{app}/dynos", create_dyno),
    ("GET", RENDEZVOUS_PREFIX + "{secret}", rendezvous),
]
