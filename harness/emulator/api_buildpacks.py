"""Buildpack installations: `GET`/`PUT /apps/{app}/buildpack-installations` (schema `buildpack-installation`).

The emulator builds with its own Python build (heroku/python style) whatever is
listed; the list is kept so that tools comparing apps (parity, fork) see what
the API would report. An app starts with none, as a Heroku app does before its
first `heroku buildpacks:set` (detection happens at build time). A name from the
Buildpack Registry (`heroku/python`) gets the registry's tarball URL; a URL is
its own name.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from harness.emulator.api_error import ApiError
from harness.emulator.context import Handler, app_of, json_body
from harness.emulator.models import App

__all__ = ["ROUTES"]

REGISTRY_URL = "https://buildpack-registry.s3.amazonaws.com/buildpacks/{name}.tgz"


def _installation(name: str, ordinal: int) -> dict[str, Any]:
    url = name if "://" in name else REGISTRY_URL.format(name=name)
    return {"buildpack": {"name": name, "url": url}, "ordinal": ordinal}


def _listed(app: App) -> web.Response:
    return web.json_response([_installation(name, n) for n, name in enumerate(app.buildpacks)])


async def list_buildpacks(request: web.Request) -> web.Response:
    """`GET /apps/{app}/buildpack-installations`, in order."""
    return _listed(app_of(request))


async def update_buildpacks(request: web.Request) -> web.Response:
    """`PUT /apps/{app}/buildpack-installations {updates: [{buildpack}]}`: replaces the whole list."""
    app = app_of(request)
    updates = (await json_body(request)).get("updates")
    if not isinstance(updates, list) or not all(
        isinstance(u, dict) and isinstance(u.get("buildpack"), str) and u["buildpack"] for u in updates
    ):
        raise ApiError(422, "invalid_params", "Require params: updates (a list of {buildpack: name or URL}).")
    app.buildpacks = [u["buildpack"] for u in updates]
    return _listed(app)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/apps/{app}/buildpack-installations", list_buildpacks),
    ("PUT", "/apps/{app}/buildpack-installations", update_buildpacks),
]
