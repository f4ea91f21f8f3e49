"""The Build API subset: `POST /apps/{app}/builds`, `GET /apps/{app}/builds[/{id}]`, and their output.

As on Heroku a build is created `pending` and runs in the background: the
source (`source_blob.url`: a `file://` directory or gzipped tarball, or a
tarball on a loopback `http(s)://` URL) is unpacked under the emulator home,
built (`build.py`), recorded as a slug and released; the build then reads
`succeeded` with its release, or `failed`. Its log is served as text at
`output_stream_url` (`/__emulator/builds/{id}/output`, bearer token).
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import tarfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
from aiohttp import web

from harness.emulator.api_error import ApiError, invalid
from harness.emulator.build import STACK, BuildFailed, build_app
from harness.emulator.context import ADMIN_PREFIX, Handler, app_of, context_of, json_body
from harness.emulator.control import Controller
from harness.emulator.models import App
from harness.emulator.render import iso

__all__ = ["ROUTES", "BuildRecord"]

FETCH_TIMEOUT_S = 120.0


@dataclass(kw_only=True)
class BuildRecord:
    """One build as the API shows it; `output` grows while it runs."""

    id: str
    app_id: str
    source_url: str
    checksum: str | None
    version: str | None
    version_description: str | None
    status: str = "pending"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    output: list[str] = field(default_factory=list)
    slug_id: str | None = None
    release_id: str | None = None
    duration_s: float | None = None


def _records(request: web.Request) -> dict[str, BuildRecord]:
    return context_of(request).builds


def build_json(request: web.Request, app: App, record: BuildRecord) -> dict[str, Any]:
    """A build in the published schema's shape."""
    account = context_of(request).controller.platform.account
    base = f"{request.scheme}://{request.host}"
    return {
        "app": {"id": app.id},
        "buildpacks": [{"url": "heroku/python", "name": "heroku/python"}],
        "created_at": iso(record.created_at),
        "generation": "cedar",
        "id": record.id,
        "output_stream_url": f"{base}{ADMIN_PREFIX}builds/{record.id}/output",
        "source_blob": {
            "checksum": record.checksum,
            "url": record.source_url,
            "version": record.version,
            "version_description": record.version_description,
        },
        "release": {"id": record.release_id} if record.release_id else None,
        "slug": {"id": record.slug_id} if record.slug_id else None,
        "stack": STACK,
        "status": record.status,
        "updated_at": iso(record.updated_at),
        "user": {"id": account.id, "email": account.email},
    }


def _local_source(url: str) -> Path | None:
    """The path of a `file://` URL (a directory or a tarball); None for other schemes."""
    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    path = Path(unquote(parts.path))
    if not path.exists():
        raise invalid(f"source_blob.url: {path} does not exist on the emulator's machine.")
    return path


def _check_loopback_url(url: str) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme not in ("http", "https") or not loopback:
        raise invalid(
            "source_blob.url must be a file:// path (directory or .tar.gz) or a loopback http(s):// URL "
            "of a gzipped tarball: the emulator fetches nothing from the internet."
        )


def _unpack(tarball: Path, target: Path) -> Path:
    """Extract a gzipped tarball (safely); a single top-level directory is the app, as on Heroku."""
    target.mkdir(parents=True)
    with tarfile.open(tarball, "r:*") as archive:
        archive.extractall(target, filter="data")
    entries = list(target.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else target


async def _fetch(url: str, into: Path) -> Path:
    tarball = into.with_suffix(".tgz")
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url, ssl=False) as response:
        if response.status != 200:
            raise BuildFailed(f"Fetching {url} answered HTTP {response.status}.", [])
        tarball.write_bytes(await response.read())  # ssl=False: loopback only, checked before
    return _unpack(tarball, into)


async def _source_dir(controller: Controller, record: BuildRecord) -> Path:
    assert controller.home is not None
    workdir = controller.home / "sources" / record.id
    local = _local_source(record.source_url)
    if local is not None and local.is_dir():
        return local
    if local is not None:
        return _unpack(local, workdir)
    return await _fetch(record.source_url, workdir)


async def _run_build(controller: Controller, app: App, record: BuildRecord) -> None:
    """Fetch, build, record the slug and release it; the record ends succeeded or failed."""

    def emit(line: str) -> None:
        record.output.append(line)
        controller.build_output(line)

    try:
        source = await _source_dir(controller, record)
        assert controller.home is not None
        result = await build_app(source, controller.home, emit)
        slug = controller.record_slug(app, source, result, version=record.version)
        release = await controller.deploy(app, slug.id, record.version_description)
        record.slug_id, record.release_id, record.duration_s = slug.id, release.id, result.duration_s
        record.status = "succeeded"
    except (BuildFailed, ApiError, OSError, tarfile.TarError, aiohttp.ClientError) as exc:
        if not record.output or str(exc) not in record.output[-1]:
            emit(f" !     {exc}")
        record.status = "failed"
    finally:
        record.updated_at = datetime.now(UTC)
        if controller.home is not None:
            shutil.rmtree(controller.home / "sources" / record.id, ignore_errors=True)


async def create_build(request: web.Request) -> web.Response:
    """`POST /apps/{app}/builds {source_blob: {url, checksum?, version?, version_description?}}`."""
    app = app_of(request)
    body = await json_body(request)
    blob = body.get("source_blob")
    url = blob.get("url") if isinstance(blob, dict) else None
    if not isinstance(blob, dict) or not isinstance(url, str) or not url:
        raise invalid("source_blob.url is required: where the emulator reads the app's source.")
    if _local_source(url) is None:
        _check_loopback_url(url)
    controller = context_of(request).controller
    if controller.home is None:
        raise ApiError(422, "invalid_params", "This emulator builds nothing: it was started without a home.")
    record = BuildRecord(
        id=str(uuid.uuid4()),
        app_id=app.id,
        source_url=url,
        checksum=blob.get("checksum"),
        version=blob.get("version"),
        version_description=blob.get("version_description"),
    )
    _records(request)[record.id] = record
    task = asyncio.get_running_loop().create_task(_run_build(controller, app, record))
    tasks = context_of(request).background
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return web.json_response(build_json(request, app, record), status=201)


async def list_builds(request: web.Request) -> web.Response:
    """`GET /apps/{app}/builds`, oldest first."""
    app = app_of(request)
    records = [r for r in _records(request).values() if r.app_id == app.id]
    return web.json_response([build_json(request, app, r) for r in records])


def _find(request: web.Request, app: App) -> BuildRecord:
    record = _records(request).get(request.match_info["build"])
    if record is None or record.app_id != app.id:
        raise ApiError(404, "not_found", "Couldn't find that build.")
    return record


async def get_build(request: web.Request) -> web.Response:
    """`GET /apps/{app}/builds/{id}`."""
    app = app_of(request)
    return web.json_response(build_json(request, app, _find(request, app)))


async def build_output(request: web.Request) -> web.Response:
    """The build's log so far, as text (`output_stream_url`)."""
    record = _records(request).get(request.match_info["build"])
    if record is None:
        raise ApiError(404, "not_found", "Couldn't find that build.")
    return web.Response(text="".join(line + "\n" for line in record.output), content_type="text/plain")


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/apps/{app}/builds", create_build),
    ("GET", "/apps/{app}/builds", list_builds),
    ("GET", "/apps/{app}/builds/{build}", get_build),
    ("GET", ADMIN_PREFIX + "builds/{build}/output", build_output),
]
