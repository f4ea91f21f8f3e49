"""Platform API endpoints for add-ons and their attachments (real services: see `addons.py`).

`POST /apps/{app}/addons {plan, attachment: {name}}` provisions (201, state
`provisioned` once the service answers); `DELETE` deprovisions (the add-on as
it was, state `deprovisioned`). Attachments are read-only here: each add-on
is attached to the app that owns it under the names that set its config vars.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from harness.emulator import render
from harness.emulator.api_error import ApiError
from harness.emulator.context import Handler, app_of, context_of, json_body
from harness.emulator.models import AddOn, App
from harness.emulator.ranges import Key, paginate, parse_range

__all__ = ["ROUTES", "attachment_json"]

_ATTACHMENT_NAMESPACE = uuid.UUID("5b0e7f0c-9a43-4a43-9d5e-3c1f4f1f2a61")


def attachment_json(app: App, addon: AddOn, name: str) -> dict[str, Any]:
    """One add-on attachment (its id is stable: a uuid5 of the add-on and the name)."""
    created = render.iso(addon.created_at)
    return {
        "addon": {"id": addon.id, "name": addon.name, "app": {"id": app.id, "name": app.name}},
        "app": {"id": app.id, "name": app.name},
        "created_at": created,
        "id": str(uuid.uuid5(_ATTACHMENT_NAMESPACE, f"{addon.id}:{name}")),
        "name": name,
        "namespace": None,
        "updated_at": created,
        "web_url": None,
        "log_input_url": None,
    }


def _page(request: web.Request, items: list[Any], fields: list[str]) -> web.Response:
    """A Range-paginated list of already rendered objects (keyed by their own fields)."""
    spec = parse_range(request.headers.get("Range"), fields)

    def key(item: dict[str, Any], name: str) -> Key:
        return str(item[name])

    page = paginate(items, spec, key)
    response = web.json_response(list(page.items), status=page.status)
    response.headers["Content-Range"] = page.content_range
    if page.next_range:
        response.headers["Next-Range"] = page.next_range
    response.headers["Accept-Ranges"] = ", ".join(fields)
    return response


async def create_addon(request: web.Request) -> web.Response:
    """`POST /apps/{app}/addons {plan, attachment: {name}}` -> 201 with a running service behind it."""
    app = app_of(request)
    body = await json_body(request)
    plan, attachment = body.get("plan"), body.get("attachment")
    if not isinstance(plan, str) or not plan:
        raise ApiError(422, "invalid_params", "Require params: plan (e.g. heroku-postgresql:essential-0).")
    name = attachment.get("name") if isinstance(attachment, dict) else None
    if name is not None and not isinstance(name, str):
        raise ApiError(422, "invalid_params", "attachment.name must be a string.")
    addon = await context_of(request).controller.provision_addon(app, plan, attachment=name)
    return web.json_response(render.addon_json(app, addon), status=201)


async def get_addon(request: web.Request) -> web.Response:
    """`GET /apps/{app}/addons/{id|name}`."""
    app = app_of(request)
    addon = context_of(request).controller.platform.find_addon(app, request.match_info["addon"])
    return web.json_response(render.addon_json(app, addon))


async def delete_addon(request: web.Request) -> web.Response:
    """`DELETE /apps/{app}/addons/{id|name}`: config vars removed (a release), service stopped, data gone."""
    app = app_of(request)
    controller = context_of(request).controller
    addon = controller.platform.find_addon(app, request.match_info["addon"])
    await controller.deprovision_addon(app, addon)
    return web.json_response(render.addon_json(app, addon, state="deprovisioned"))


def _all_addons(request: web.Request) -> list[tuple[App, AddOn]]:
    apps = context_of(request).controller.platform.apps.values()
    return [(app, addon) for app in apps for addon in app.addons]


async def list_all_addons(request: web.Request) -> web.Response:
    """`GET /addons`: every add-on of the account (Range fields id, name)."""
    return _page(request, [render.addon_json(app, a) for app, a in _all_addons(request)], ["id", "name"])


async def get_any_addon(request: web.Request) -> web.Response:
    """`GET /addons/{id|name}`."""
    identity = request.match_info["addon"]
    for app, addon in _all_addons(request):
        if identity in (addon.id, addon.name):
            return web.json_response(render.addon_json(app, addon))
    raise ApiError(404, "not_found", "Couldn't find that add-on.")


async def list_app_attachments(request: web.Request) -> web.Response:
    """`GET /apps/{app}/addon-attachments` (Range fields id, name)."""
    app = app_of(request)
    items = [attachment_json(app, addon, name) for addon in app.addons for name in addon.attachments]
    return _page(request, items, ["id", "name"])


async def list_addon_attachments(request: web.Request) -> web.Response:
    """`GET /addons/{id|name}/addon-attachments`."""
    identity = request.match_info["addon"]
    for app, addon in _all_addons(request):
        if identity in (addon.id, addon.name):
            items = [attachment_json(app, addon, name) for name in addon.attachments]
            return _page(request, items, ["id", "name"])
    raise ApiError(404, "not_found", "Couldn't find that add-on.")


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/apps/{app}/addons", create_addon),
    ("GET", "/apps/{app}/addons/{addon}", get_addon),
    ("DELETE", "/apps/{app}/addons/{addon}", delete_addon),
    ("GET", "/apps/{app}/addon-attachments", list_app_attachments),
    ("GET", "/addons", list_all_addons),
    ("GET", "/addons/{addon}", get_any_addon),
    ("GET", "/addons/{addon}/addon-attachments", list_addon_attachments),
]
