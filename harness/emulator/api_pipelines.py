"""The emulator's pipelines API: pipelines, couplings and promotions over HTTP (NOTES §2.11).

Rules live in `pipelines.py`; this module parses requests, renders the
published schema's shapes and carries out promotions. A promotion answers 201
with status `pending` at once, as Heroku does; in the background each target
gets a release of the source release's slug with the target's own config vars
(through the controller, so its dynos restart on it), then its target turns
`succeeded` (with that release) or `failed` (with the reason), and the
promotion `completed`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from harness.emulator.api_error import ApiError, invalid
from harness.emulator.context import ApiContext, Handler, app_of, context_of, json_body, paged
from harness.emulator.pipelines import Coupling, Pipeline, PipelineStore, Promotion, PromotionTarget
from harness.emulator.ranges import Key
from harness.emulator.render import GENERATION, iso, named_ref

__all__ = ["ROUTES"]

JSON = dict[str, Any]
_RUNNING: set[asyncio.Task[None]] = set()  # promotions being carried out (kept from the GC)


def _store(request: web.Request) -> PipelineStore:
    return context_of(request).pipelines


def _key(item: Any, name: str) -> Key:
    return str(getattr(item, name))


def _ref(body: JSON, name: str) -> str:
    """`{name: {id}}` (or `{name: "id-or-name"}`, as the CLI sends for apps) -> the identity."""
    value = body.get(name)
    if isinstance(value, dict):
        value = value.get("id") or value.get("name")
    if not isinstance(value, str) or not value:
        raise invalid(f"Require params: {name}.")
    return value


def pipeline_json(request: web.Request, pipeline: Pipeline) -> JSON:
    """One pipeline; the owner is the emulator's one account (a user)."""
    account = context_of(request).controller.platform.account
    return {
        "created_at": iso(pipeline.created_at),
        "id": pipeline.id,
        "name": pipeline.name,
        "owner": {"id": account.id, "type": "user"},
        "updated_at": iso(pipeline.updated_at),
        "generation": named_ref("generation", GENERATION),
    }


def coupling_json(coupling: Coupling) -> JSON:
    """One coupling: the app, its pipeline, its stage."""
    return {
        "app": {"id": coupling.app_id},
        "created_at": iso(coupling.created_at),
        "id": coupling.id,
        "pipeline": {"id": coupling.pipeline_id},
        "stage": coupling.stage,
        "updated_at": iso(coupling.updated_at),
    }


def promotion_json(promotion: Promotion) -> JSON:
    """One promotion; `completed` once no target is pending."""
    return {
        "created_at": iso(promotion.created_at),
        "id": promotion.id,
        "pipeline": {"id": promotion.pipeline_id},
        "source": {"app": {"id": promotion.source_app_id}, "release": {"id": promotion.source_release_id}},
        "status": promotion.status,
        "updated_at": iso(promotion.updated_at),
    }


def target_json(promotion: Promotion, target: PromotionTarget) -> JSON:
    """One promotion target: the release made on it once it succeeded."""
    return {
        "app": {"id": target.app_id},
        "error_message": target.error_message,
        "id": target.id,
        "pipeline_promotion": {"id": promotion.id},
        "release": {"id": target.release_id} if target.release_id else None,
        "status": target.status,
    }


# -- pipelines --------------------------------------------------------------------------------------


async def list_pipelines(request: web.Request) -> web.Response:
    """`GET /pipelines` (Range fields id, name)."""
    pipelines = list(_store(request).pipelines.values())
    return paged(request, pipelines, ["id", "name"], _key, lambda p: pipeline_json(request, p))


async def create_pipeline(request: web.Request) -> web.Response:
    """`POST /pipelines {name}` -> 201."""
    body = await json_body(request)
    pipeline = _store(request).create_pipeline(body.get("name"))
    return web.json_response(pipeline_json(request, pipeline), status=201)


async def get_pipeline(request: web.Request) -> web.Response:
    """`GET /pipelines/{id|name}`."""
    pipeline = _store(request).find_pipeline(request.match_info["pipeline"])
    return web.json_response(pipeline_json(request, pipeline))


async def update_pipeline(request: web.Request) -> web.Response:
    """`PATCH /pipelines/{id} {name}`."""
    store = _store(request)
    pipeline = store.find_pipeline(request.match_info["pipeline"])
    body = await json_body(request)
    return web.json_response(pipeline_json(request, store.rename_pipeline(pipeline, body.get("name"))))


async def delete_pipeline(request: web.Request) -> web.Response:
    """`DELETE /pipelines/{id}`: the apps stay, uncoupled."""
    store = _store(request)
    pipeline = store.delete_pipeline(store.find_pipeline(request.match_info["pipeline"]))
    return web.json_response(pipeline_json(request, pipeline))


# -- couplings --------------------------------------------------------------------------------------


async def list_couplings(request: web.Request) -> web.Response:
    """`GET /pipeline-couplings` (and `/users/~/pipeline-couplings`: the one account owns them all)."""
    return paged(request, _store(request).couplings, ["id"], _key, coupling_json)


async def list_pipeline_couplings(request: web.Request) -> web.Response:
    """`GET /pipelines/{id}/pipeline-couplings`."""
    store = _store(request)
    pipeline = store.find_pipeline(request.match_info["pipeline"])
    couplings = [c for c in store.couplings if c.pipeline_id == pipeline.id]
    return paged(request, couplings, ["id"], _key, coupling_json)


async def create_coupling(request: web.Request) -> web.Response:
    """`POST /pipeline-couplings {app, pipeline, stage}` -> 201."""
    body = await json_body(request)
    store = _store(request)
    app = context_of(request).controller.platform.find_app(_ref(body, "app"))
    pipeline = store.find_pipeline(_ref(body, "pipeline"))
    return web.json_response(coupling_json(store.couple(app, pipeline, body.get("stage"))), status=201)


async def get_coupling(request: web.Request) -> web.Response:
    """`GET /pipeline-couplings/{id}`."""
    return web.json_response(coupling_json(_store(request).find_coupling(request.match_info["coupling"])))


async def update_coupling(request: web.Request) -> web.Response:
    """`PATCH /pipeline-couplings/{id} {stage}`."""
    store = _store(request)
    coupling = store.find_coupling(request.match_info["coupling"])
    body = await json_body(request)
    return web.json_response(coupling_json(store.restage(coupling, body.get("stage"))))


async def delete_coupling(request: web.Request) -> web.Response:
    """`DELETE /pipeline-couplings/{id}`."""
    store = _store(request)
    return web.json_response(
        coupling_json(store.uncouple(store.find_coupling(request.match_info["coupling"])))
    )


async def app_coupling(request: web.Request) -> web.Response:
    """`GET /apps/{app}/pipeline-couplings`: the app's one coupling (404 when in no pipeline)."""
    return web.json_response(coupling_json(_store(request).coupling_of(app_of(request))))


# -- promotions -------------------------------------------------------------------------------------


async def create_promotion(request: web.Request) -> web.Response:
    """`POST /pipeline-promotions {pipeline, source: {app, release?}, targets: [{app}]}` -> 201 pending."""
    body = await json_body(request)
    store, context = _store(request), context_of(request)
    platform = context.controller.platform
    source = body.get("source")
    targets = body.get("targets")
    if not isinstance(source, dict) or not isinstance(targets, list):
        raise invalid("Require params: pipeline, source, targets.")
    release = source.get("release")
    release_id = _ref(source, "release") if release is not None else None
    target_apps = [platform.find_app(_ref(t, "app")) for t in targets if isinstance(t, dict)]
    if len(target_apps) != len(targets):
        raise invalid("Each target must be an object naming an app.")
    promotion, released = store.start_promotion(
        store.find_pipeline(_ref(body, "pipeline")),
        platform.find_app(_ref(source, "app")),
        release_id,
        target_apps,
    )
    task = asyncio.create_task(_carry_out(context, promotion, released.slug_id or "", released.version))
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return web.json_response(promotion_json(promotion), status=201)


async def _carry_out(context: ApiContext, promotion: Promotion, slug_id: str, version: int) -> None:
    """Release the source slug to each target in turn; one target's failure does not stop the rest."""
    platform, store = context.controller.platform, context.pipelines
    source = next((a for a in platform.apps.values() if a.id == promotion.source_app_id), None)
    source_name = source.name if source is not None else promotion.source_app_id
    for target in promotion.targets:
        app = next((a for a in platform.apps.values() if a.id == target.app_id), None)
        if app is None:
            store.settle(promotion, target, None, "The target app was deleted.")
            continue
        try:
            made = await context.controller.deploy(app, slug_id, f"Promote {source_name} v{version}")
        except ApiError as exc:
            store.settle(promotion, target, None, exc.message)
        else:
            store.settle(promotion, target, made, None)


async def get_promotion(request: web.Request) -> web.Response:
    """`GET /pipeline-promotions/{id}`."""
    return web.json_response(promotion_json(_store(request).find_promotion(request.match_info["promotion"])))


async def list_promotion_targets(request: web.Request) -> web.Response:
    """`GET /pipeline-promotions/{id}/promotion-targets`."""
    promotion = _store(request).find_promotion(request.match_info["promotion"])
    return paged(request, promotion.targets, ["id"], _key, lambda t: target_json(promotion, t))


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/pipelines", list_pipelines),
    ("POST", "/pipelines", create_pipeline),
    ("GET", "/pipelines/{pipeline}", get_pipeline),
    ("PATCH", "/pipelines/{pipeline}", update_pipeline),
    ("DELETE", "/pipelines/{pipeline}", delete_pipeline),
    ("GET", "/pipelines/{pipeline}/pipeline-couplings", list_pipeline_couplings),
    ("GET", "/pipeline-couplings", list_couplings),
    ("GET", "/users/~/pipeline-couplings", list_couplings),
    ("POST", "/pipeline-couplings", create_coupling),
    ("GET", "/pipeline-couplings/{coupling}", get_coupling),
    ("PATCH", "/pipeline-couplings/{coupling}", update_coupling),
    ("DELETE", "/pipeline-couplings/{coupling}", delete_coupling),
    ("GET", "/apps/{app}/pipeline-couplings", app_coupling),
    ("POST", "/pipeline-promotions", create_promotion),
    ("GET", "/pipeline-promotions/{promotion}", get_promotion),
    ("GET", "/pipeline-promotions/{promotion}/promotion-targets", list_promotion_targets),
]
