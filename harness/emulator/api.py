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
Every request (auth header removed, config var values masked) goes to a journal that `GET
/__emulator/requests` returns, so client tests can check their requests
against the schema. The admin endpoints under `/__emulator/` (same bearer
token, no Accept check, never charged or journaled) are the fault-injection
knobs (`admin.py`); `/logplex/sessions/{id}` serves log sessions
(`logplex.py`, a capability URL like logplex's: no token).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web

from harness.emulator import (
    admin,
    api_addons,
    api_buildpacks,
    api_builds,
    api_dynos,
    api_pipelines,
    logplex,
    render,
)
from harness.emulator.api_error import ApiError
from harness.emulator.context import (
    ADMIN_PREFIX,
    CONTEXT,
    FAULT_MESSAGES,
    FAULT_STATUSES,
    LOGPLEX_PREFIX,
    ApiContext,
    Handler,
    app_of,
    context_of,
    error_response,
    json_body,
    paged,
)
from harness.emulator.control_oneoff import RENDEZVOUS_PREFIX
from harness.emulator.ranges import Key
from harness.emulator.sizes import DYNO_SIZES, find_dyno_size

__all__ = ["ROUTES", "create_api"]

ACCEPT_PATTERN = re.compile(r"application/vnd\.heroku\+json\s*;\s*version=(3|3\.sdk)\s*(?:[;,]|$)")
# Config var values are secrets: the journal keeps their names (and nulls), never their values.
REDACTED = "[secure]"
NOT_FOUND_ENDPOINT = (
    "The requested API endpoint was not found. Are you using the right HTTP verb (i.e. `GET` vs. `POST`), "
    "and did you specify your intended version with the `Accept` header?"
)

T = TypeVar("T")


def _authorized(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


# -- middleware -----------------------------------------------------------------------------


@web.middleware
async def conventions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request-Id, auth, Accept, freeze, rate limit, faults, error bodies, journal (see module doc)."""
    request_id = request.headers.get("Request-Id") or str(uuid.uuid4())
    path = request.path
    if path.startswith((LOGPLEX_PREFIX, RENDEZVOUS_PREFIX)):  # capability URLs: no token
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
        return error_response(exc.status, exc.error_id, exc.message)
    except web.HTTPNotFound:
        return error_response(404, "not_found", NOT_FOUND_ENDPOINT)
    except web.HTTPMethodNotAllowed:
        return error_response(404, "not_found", NOT_FOUND_ENDPOINT)


async def _admin_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _authorized(request, context_of(request).token):
        return error_response(401, "unauthorized", "Invalid credentials provided.")
    return await _guarded(request, handler)


async def _platform_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = context_of(request)
    if not _authorized(request, ctx.token):
        return error_response(401, "unauthorized", "Invalid credentials provided.")
    if not ACCEPT_PATTERN.search(request.headers.get("Accept", "")):
        response = error_response(
            406,
            "not_acceptable",
            "Please specify a version along with the MIME type. "
            "For example, `Accept: application/vnd.heroku+json; version=3`.",
        )
        response.headers["RateLimit-Remaining"] = str(ctx.bucket.remaining())
        return response
    # Re-checked in short naps, so `DELETE /__emulator/faults` ends a freeze for held requests too.
    while (wait_s := ctx.freeze_wait_s(request.method, request.path, time.monotonic())) > 0:
        await asyncio.sleep(min(wait_s, 0.1))
    return await _charged(request, handler, ctx)


async def _charged(request: web.Request, handler: Handler, ctx: ApiContext) -> web.StreamResponse:
    free = request.method == "GET" and request.path.rstrip("/") == "/account/rate-limits"
    if not free:
        allowed, _ = ctx.bucket.take()
        if not allowed:
            refused = error_response(
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
        response = error_response(
            fault,
            FAULT_STATUSES.get(fault, "internal_server_error"),
            FAULT_MESSAGES.get(fault, f"Injected failure {fault}."),
        )
    else:
        response = await _guarded(request, handler)
    response.headers["RateLimit-Remaining"] = "0" if fault == 429 else str(ctx.bucket.remaining())
    return response


async def _journal(request: web.Request, response: web.StreamResponse, request_id: str) -> None:
    ctx = context_of(request)
    raw = await request.read()  # cached by aiohttp: the handler may have read it already
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    if request.path.endswith("/config-vars") and isinstance(body, dict):
        body = {key: REDACTED if isinstance(value, str) else value for key, value in body.items()}
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


def _attr_key(item: Any, name: str) -> Key:
    value = getattr(item, name)
    return value if isinstance(value, int) else str(value)


def _accepted() -> web.Response:
    return web.json_response({}, status=202)


# -- account, apps -------------------------------------------------------------------------------


async def get_account(request: web.Request) -> web.Response:
    """`GET /account`."""
    return web.json_response(render.account_json(context_of(request).controller.platform.account))


async def get_rate_limits(request: web.Request) -> web.Response:
    """`GET /account/rate-limits` (free)."""
    return web.json_response({"remaining": context_of(request).bucket.remaining()})


async def list_apps(request: web.Request) -> web.Response:
    """`GET /apps` (Range fields id, name)."""
    platform = context_of(request).controller.platform
    return paged(
        request,
        list(platform.apps.values()),
        ["id", "name"],
        _attr_key,
        lambda app: render.app_json(app, platform),
    )


async def create_app(request: web.Request) -> web.Response:
    """`POST /apps {name, region, stack}` -> 201, a blank app."""
    body = await json_body(request)
    controller = context_of(request).controller
    name, region, stack = body.get("name"), body.get("region"), body.get("stack")
    if any(v is not None and not isinstance(v, str) for v in (name, region, stack)):
        raise ApiError(422, "invalid_params", "name, region and stack must be strings.")
    app = controller.create_app(name, region=region, stack=stack)
    return web.json_response(render.app_json(app, controller.platform), status=201)


async def get_app(request: web.Request) -> web.Response:
    """`GET /apps/{app}`."""
    return web.json_response(render.app_json(app_of(request), context_of(request).controller.platform))


async def update_app(request: web.Request) -> web.Response:
    """`PATCH /apps/{app} {maintenance, name, build_stack}`."""
    body = await json_body(request)
    app = app_of(request)
    maintenance, name = body.get("maintenance"), body.get("name")
    if maintenance is not None and not isinstance(maintenance, bool):
        raise ApiError(422, "invalid_params", "maintenance must be true or false.")
    if name is not None and not isinstance(name, str):
        raise ApiError(422, "invalid_params", "name must be a string.")
    controller = context_of(request).controller
    controller.set_maintenance(app, maintenance=maintenance, name=name)
    return web.json_response(render.app_json(app, controller.platform))


async def delete_app(request: web.Request) -> web.Response:
    """`DELETE /apps/{app}`: stops its dynos, returns the app as it was."""
    app = app_of(request)
    controller = context_of(request).controller
    rendered = render.app_json(app, controller.platform)
    await controller.delete_app(app)
    return web.json_response(rendered)


# -- formation, dynos ------------------------------------------------------------------------------


def _formation_key(item: Any, name: str) -> Key:
    return str(item.type if name in ("type", "name") else item.id)


async def list_formation(request: web.Request) -> web.Response:
    """`GET /apps/{app}/formation` (Range fields id, type, name)."""
    app = app_of(request)
    return paged(
        request,
        list(app.formation.values()),
        ["id", "type", "name"],
        _formation_key,
        lambda f: render.formation_json(app, f),
    )


async def get_formation(request: web.Request) -> web.Response:
    """`GET /apps/{app}/formation/{id|type}`."""
    app = app_of(request)
    formation = context_of(request).controller.platform.find_formation(app, request.match_info["formation"])
    return web.json_response(render.formation_json(app, formation))


async def batch_update_formation(request: web.Request) -> web.Response:
    """`PATCH /apps/{app}/formation {updates: [...]}`: all or nothing."""
    app = app_of(request)
    updates = (await json_body(request)).get("updates")
    if not isinstance(updates, list) or not all(isinstance(u, dict) for u in updates):
        raise ApiError(422, "invalid_params", "Require params: updates (a list of {type, quantity, size}).")
    changed = await context_of(request).controller.update_formation(app, updates)
    return web.json_response([render.formation_json(app, f) for f in changed])


async def update_formation(request: web.Request) -> web.Response:
    """`PATCH /apps/{app}/formation/{id|type} {quantity, size | dyno_size}`."""
    app = app_of(request)
    update = dict(await json_body(request), type=request.match_info["formation"])
    changed = await context_of(request).controller.update_formation(app, [update])
    return web.json_response(render.formation_json(app, changed[0]))


async def list_dynos(request: web.Request) -> web.Response:
    """`GET /apps/{app}/dynos` (Range fields id, name)."""
    app = app_of(request)
    dynos = context_of(request).controller.dynos(app)
    return paged(request, dynos, ["id", "name"], _attr_key, lambda d: render.dyno_json(app, d))


async def get_dyno(request: web.Request) -> web.Response:
    """`GET /apps/{app}/dynos/{id|name}`."""
    app = app_of(request)
    dyno = context_of(request).controller.find_dyno(app, request.match_info["dyno"])
    return web.json_response(render.dyno_json(app, dyno))


async def restart_all(request: web.Request) -> web.Response:
    """`DELETE /apps/{app}/dynos` -> 202 {}."""
    await context_of(request).controller.restart(app_of(request))
    return _accepted()


async def restart_dyno(request: web.Request) -> web.Response:
    """`DELETE /apps/{app}/dynos/{id|name}` -> 202 {}."""
    app = app_of(request)
    controller = context_of(request).controller
    dyno = controller.find_dyno(app, request.match_info["dyno"])
    await controller.restart(app, dyno_name=dyno.name)
    return _accepted()


async def restart_type(request: web.Request) -> web.Response:
    """`DELETE /apps/{app}/formations/{type}` -> 202 {}."""
    await context_of(request).controller.restart(app_of(request), process_type=request.match_info["type"])
    return _accepted()


# -- releases, slugs, config vars, add-ons, sizes ---------------------------------------------------


async def list_releases(request: web.Request) -> web.Response:
    """`GET /apps/{app}/releases` (Range fields version, id)."""
    app = app_of(request)
    platform = context_of(request).controller.platform
    return paged(
        request, app.releases, ["version", "id"], _attr_key, lambda r: render.release_json(app, r, platform)
    )


async def get_release(request: web.Request) -> web.Response:
    """`GET /apps/{app}/releases/{id|version}`."""
    app = app_of(request)
    platform = context_of(request).controller.platform
    release = platform.find_release(app, request.match_info["release"])
    return web.json_response(render.release_json(app, release, platform))


async def create_release(request: web.Request) -> web.Response:
    """`POST /apps/{app}/releases {slug, description}` (deploy) or `{release}` (rollback) -> 201."""
    app = app_of(request)
    body = await json_body(request)
    controller = context_of(request).controller
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
    app = app_of(request)
    release = context_of(request).controller.platform.find_release(app, request.match_info["release"])
    return web.json_response(dict(release.config))


async def get_slug(request: web.Request) -> web.Response:
    """`GET /apps/{app}/slugs/{id}`."""
    app = app_of(request)
    slug = context_of(request).controller.platform.find_slug(app, request.match_info["slug"])
    return web.json_response(render.slug_json(slug, app.stack))


async def get_config(request: web.Request) -> web.Response:
    """`GET /apps/{app}/config-vars`."""
    return web.json_response(dict(app_of(request).config))


async def update_config(request: web.Request) -> web.Response:
    """`PATCH /apps/{app}/config-vars`: a change makes a release and restarts every dyno."""
    app = app_of(request)
    await context_of(request).controller.update_config(app, await json_body(request))
    return web.json_response(dict(app.config))


async def list_addons(request: web.Request) -> web.Response:
    """`GET /apps/{app}/addons` (Range fields id, name)."""
    app = app_of(request)
    return paged(request, app.addons, ["id", "name"], _attr_key, lambda a: render.addon_json(app, a))


async def list_dyno_sizes(request: web.Request) -> web.Response:
    """`GET /dyno-sizes` (also `/apps/{app}/available-dyno-sizes`, which checks the app)."""
    if "app" in request.match_info:
        app_of(request)
    return paged(request, list(DYNO_SIZES), ["id", "name"], _attr_key, render.dyno_size_json)


async def get_dyno_size(request: web.Request) -> web.Response:
    """`GET /dyno-sizes/{id|name}` (case-insensitive name)."""
    try:
        size = find_dyno_size(request.match_info["size"])
    except ApiError:
        raise ApiError(404, "not_found", "Couldn't find that dyno size.") from None
    return web.json_response(render.dyno_size_json(size))


# -- log sessions ---------------------------------------------------------------------------------


# -- fault injection (admin) -----------------------------------------------------------------------


# -- the application -----------------------------------------------------------------------------

ROUTES: list[tuple[str, str, Handler]] = [
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
]


def create_api(context: ApiContext) -> web.Application:
    """The aiohttp application serving the Platform API, log sessions and the admin knobs."""
    application = web.Application(middlewares=[conventions])
    application[CONTEXT] = context
    extra = [
        *api_pipelines.ROUTES,
        *api_addons.ROUTES,
        *api_dynos.ROUTES,
        *api_buildpacks.ROUTES,
        *api_builds.ROUTES,
    ]
    for method, path, handler in [*ROUTES, *extra, *logplex.ROUTES, *admin.ROUTES]:
        application.router.add_route(method, path, handler)
    return application
