"""The emulator's control plane: platform state (`state.py`) applied to running dynos (`runtime.py`).

Every change goes through the state first (which enforces Heroku's rules and
may refuse with an `ApiError`) and is then applied to the app's `AppRuntime`,
the way Heroku's API hands work to its dyno manager: formation changes return
at once and dynos boot in the background; a new release (deploy, config
change, rollback) restarts every dyno on it.

An app gets a runtime (router + dynos) when a slug built from a directory is
first released to it: at startup for `--app NAME=DIR`, or later for an app
created through `POST /apps` and given another app's slug (as `heroku fork`
did). Until then its `web_url` is null and it has no dynos.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.emulator.addons import AddonServices
from harness.emulator.api_error import ApiError
from harness.emulator.appjson import read_app_json
from harness.emulator.build import BuildResult, build_app
from harness.emulator.control_addons import AddonControl
from harness.emulator.control_oneoff import OneOff, OneOffControl
from harness.emulator.logs import LogBuffer
from harness.emulator.models import AddOnPlan, App, Formation, Release, Slug
from harness.emulator.oneoff import RELEASE_TYPE, run_release_phase
from harness.emulator.procfile import read_procfile
from harness.emulator.runtime import AppRuntime
from harness.emulator.settings import RuntimeSettings
from harness.emulator.slug import git_head, slug_files
from harness.emulator.state import Platform
from harness.emulator.supervisor import DynoInfo, ReleaseRef
from harness.errors import ConfigError, EmulatorError

__all__ = ["Controller"]


class Controller(AddonControl, OneOffControl):
    """Apps, their runtimes, add-on services and log buffers, on the emulator's one asyncio loop."""

    def __init__(
        self,
        platform: Platform,
        settings: RuntimeSettings,
        *,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
        home: Path | None = None,
        build_output: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.platform = platform
        self.settings = settings
        self.host = host
        self.tls = tls  # the routers' TLS context (None: plain HTTP only)
        self.home = home  # where builds are cached (None: apps run on harness's interpreter, unbuilt)
        self.build_output = build_output  # each build log line, as it comes
        self.builds: dict[str, BuildResult] = {}  # by slug id
        self.runtimes: dict[str, AppRuntime] = {}
        self.logs: dict[str, LogBuffer] = {}
        self.services = AddonServices()
        self.oneoffs: dict[str, dict[str, OneOff]] = {}

    # -- apps ---------------------------------------------------------------

    async def add_local_app(self, name: str, app_dir: Path, *, addons: Sequence[AddOnPlan] = ()) -> App:
        """Create an app from a directory with a Procfile (and app.json), release it as v1 and boot it.

        app.json's env and add-ons (real services) are in place before v1; its formation (else
        web=1:Standard-1X) is what v1 boots.
        """
        manifest = read_app_json(app_dir)
        app = self.platform.create_app(name)
        try:
            app.config.update(manifest.env)
            for plan in addons:
                self.platform.add_addon(app, plan)
            for request in manifest.addons:
                await self.provision_addon(app, request.plan, attachment=request.attachment, release=False)
            build = await build_app(app_dir, self.home, self.build_output) if self.home else None
            run_dir = build.slug_dir if build else app_dir
            await self._start_runtime(app, run_dir, build.bin_dir if build else None)
            slug = self.record_slug(app, app_dir, build)
            release = self.platform.deploy(app, slug.id, None)
            self.log_api(app, f"Release v{release.version} created by user {self.platform.account.email}")
            self._initial_formation(app, app_dir, manifest.formation)
            await self._apply_release(app, release)
            if release.status == "failed":
                raise EmulatorError(
                    f"App {name}'s release phase failed (Procfile `release:` command in {app_dir}); "
                    "its output:\n" + "\n".join(self.log_buffer(app).recent(20, dyno=None))
                )
        except BaseException:
            await self.delete_app(app)
            raise
        return app

    def _initial_formation(self, app: App, app_dir: Path, updates: list[dict[str, Any]]) -> None:
        if not updates:
            return
        try:
            self.platform.update_formation(app, updates)
        except ApiError as exc:
            raise ConfigError(
                f"{exc.message} Fix app.json's formation (process types come from the Procfile).",
                file=app_dir / "app.json",
                field="formation",
            ) from None

    def record_slug(
        self, app: App, source_dir: Path, build: BuildResult | None, *, version: str | None = None
    ) -> Slug:
        """The slug a build made of `source_dir`: its commit is the directory's git HEAD (else `version`,
        else a digest of its files), its size the slug's; dynos run from the build's slug directory."""
        files = slug_files(source_dir)
        head = git_head(source_dir)
        commit, description = head if head else (version or files.sha1, f"{source_dir.name} directory")
        slug = self.platform.create_slug(
            app,
            read_procfile(build.slug_dir if build else source_dir),
            commit=commit,
            commit_description=description,
            size=build.slug_size if build else files.size,
            checksum=files.checksum,
            source_dir=str(build.slug_dir if build else source_dir),
        )
        if build is not None:
            self.builds[slug.id] = build
        return slug

    def create_app(self, name: str | None, *, region: str | None = None, stack: str | None = None) -> App:
        """A blank app (no release, no dynos) as `POST /apps` makes it."""
        app = self.platform.create_app(name, region=region, stack=stack)
        self.logs[app.id] = LogBuffer()
        return app

    async def delete_app(self, app: App) -> App:
        """Stop the app's dynos and router, deprovision its add-ons, then forget it."""
        await self.stop_one_offs(app)
        runtime = self.runtimes.pop(app.id, None)
        if runtime is not None:
            await runtime.close()
        await self.deprovision_all(app)
        self.logs.pop(app.id, None)
        if app.id in self.platform.apps:
            self.platform.delete_app(app)
        return app

    def set_maintenance(self, app: App, *, maintenance: bool | None, name: str | None) -> App:
        """`PATCH /apps/{app}`: maintenance makes the router answer H80."""
        self.platform.update_app(app, name=name, maintenance=maintenance)
        runtime = self.runtimes.get(app.id)
        if runtime is not None:
            runtime.maintenance = app.maintenance
            runtime.app_name = app.name
        return app

    def runtime(self, app: App) -> AppRuntime:
        """The app's runtime; 404 for fault injection on an app that has never been deployed."""
        runtime = self.runtimes.get(app.id)
        if runtime is None:
            raise ApiError(
                404, "not_found", f"App {app.name} has no dynos: nothing has been released to it yet."
            )
        return runtime

    def log_buffer(self, app: App) -> LogBuffer:
        """The app's log lines (router, dynos, API events)."""
        return self.logs.setdefault(app.id, LogBuffer())

    def log_api(self, app: App, message: str) -> None:
        """A `heroku[api]` line, as Heroku logs releases, scaling and restarts."""
        self.log_buffer(app).append("heroku", "api", message)

    # -- releases -----------------------------------------------------------

    async def deploy(self, app: App, slug_id: str, description: str | None) -> Release:
        """`POST /apps/{app}/releases {slug}`: release any app's slug with this app's config."""
        slug = self.platform.slugs.get(slug_id)
        if slug is not None:
            await self._ensure_runtime(app, slug)
        release = self.platform.deploy(app, slug_id, description)
        self.log_api(app, f"Release v{release.version} created by user {self.platform.account.email}")
        await self._apply_release(app, release)
        return release

    async def rollback(self, app: App, release_id: str) -> Release:
        """`POST /apps/{app}/releases {release}`: a new version with the target's slug and config."""
        release = self.platform.rollback(app, release_id)
        self.log_api(app, f"{release.description} by user {self.platform.account.email}")
        await self._apply_release(app, release)
        return release

    async def update_config(
        self, app: App, changes: dict[str, Any], description: str | None = None
    ) -> Release | None:
        """`PATCH /apps/{app}/config-vars`: a real change is a new release, and every dyno restarts."""
        release = self.platform.update_config(app, changes, description)
        if release is not None:
            self.log_api(app, f"{release.description} by user {self.platform.account.email}")
            await self._apply_release(app, release)
        return release

    async def _apply_release(self, app: App, release: Release) -> None:
        runtime = self.runtimes.get(app.id)
        if runtime is None or not await self._release_phase(app, release, runtime):
            return
        slug = self.platform.slug_of(release)
        if slug is not None and slug.source_dir is not None:  # a deploy or rollback brings its own code
            build = self.builds.get(slug.id)
            runtime.use_slug(Path(slug.source_dir), build.bin_dir if build else None)
        ref = ReleaseRef(release.id, release.version)
        # Restart what runs first (new specs for every type), then let the formation add what is missing.
        await runtime.restart(release=ref, env=release.config)
        for formation in app.formation.values():
            await runtime.set_formation(
                formation.type, formation.quantity, formation.size, ref, release.config
            )
        self.log_api(app, f"Restarting all dynos on v{release.version}")

    async def _release_phase(self, app: App, release: Release, runtime: AppRuntime) -> bool:
        """Heroku's Release Phase (`oneoff.py`): a failing `release:` command fails the release."""
        slug = self.platform.slug_of(release)
        process_types = slug.process_types if slug is not None else runtime.process_types
        if RELEASE_TYPE not in process_types:
            return True
        release.status = "pending"
        # The release's own code runs its release command (a deploy's new slug, not the running one).
        build = self.builds.get(slug.id) if slug is not None else None
        own_dir = slug is not None and slug.source_dir is not None
        passed = await run_release_phase(
            process_types,
            app_dir=Path(slug.source_dir) if slug is not None and slug.source_dir else runtime.app_dir,
            config=release.config,
            release_version=release.version,
            logs=self.log_buffer(app),
            bin_dir=build.bin_dir if build is not None else (None if own_dir else runtime.bin_dir),
        )
        release.status = "succeeded" if passed else "failed"
        if not passed:
            current = app.current_release
            still = f"v{current.version}" if current is not None else "no release"
            self.log_api(
                app, f"Release v{release.version} failed: its release command failed; dynos stay on {still}"
            )
        return passed

    # -- formation and dynos ------------------------------------------------

    async def update_formation(self, app: App, updates: Iterable[dict[str, Any]]) -> list[Formation]:
        """Validate and apply a (batch) formation update; dynos boot or stop in the background."""
        changes = self.platform.update_formation(app, list(updates))
        runtime = self.runtimes.get(app.id)
        current = app.current_release
        for change in changes:
            formation = change.formation
            if (
                runtime is not None
                and current is not None
                and (change.quantity_changed or change.size_changed)
            ):
                ref = ReleaseRef(current.id, current.version)
                await runtime.set_formation(
                    formation.type, formation.quantity, formation.size, ref, current.config
                )
                self.log_api(
                    app,
                    f"Scaled to {formation.type}@{formation.quantity}:{formation.size} "
                    f"by user {self.platform.account.email}",
                )
        return [change.formation for change in changes]

    def dynos(self, app: App) -> list[DynoInfo]:
        """The app's dynos as the runtime sees them now, then its running one-off dynos."""
        runtime = self.runtimes.get(app.id)
        return [*(runtime.dynos() if runtime is not None else []), *self.one_off_dynos(app)]

    def find_dyno(self, app: App, identity: str) -> DynoInfo:
        """A dyno by id or name; 404 "Couldn't find that dyno." otherwise."""
        for dyno in self.dynos(app):
            if identity in (dyno.id, dyno.name):
                return dyno
        raise ApiError(404, "not_found", "Couldn't find that dyno.")

    async def restart(
        self, app: App, *, dyno_name: str | None = None, process_type: str | None = None
    ) -> None:
        """Restart one dyno, one process type or all, on the current release."""
        if process_type is not None and process_type not in app.formation:
            raise ApiError(404, "not_found", "Couldn't find that formation.")
        if dyno_name is not None and dyno_name.startswith("run."):
            await self.stop_one_offs(app, dyno_name)  # a one-off dyno is not restarted: it ends
            return
        runtime = self.runtimes.get(app.id)
        current = app.current_release
        if runtime is None or current is None:
            return
        ref = ReleaseRef(current.id, current.version)
        await runtime.restart(release=ref, env=current.config, dyno_name=dyno_name, process_type=process_type)
        self.log_api(
            app, f"Restart {dyno_name or process_type or 'all dynos'} by user {self.platform.account.email}"
        )

    def update_settings(self, app: App, changes: dict[str, Any]) -> RuntimeSettings:
        """Change runtime timings of one app at runtime (fault injection); unknown names are 422."""
        runtime = self.runtime(app)
        known = {f.name for f in dataclasses.fields(RuntimeSettings)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ApiError(
                422,
                "invalid_params",
                f"Unknown runtime settings: {', '.join(unknown)}. Known: {', '.join(sorted(known))}.",
            )
        if not all(isinstance(v, int | float) for v in changes.values()):
            raise ApiError(422, "invalid_params", "Runtime settings take numbers (or true/false).")
        try:
            runtime.settings = dataclasses.replace(runtime.settings, **changes)
        except TypeError as exc:
            raise ApiError(422, "invalid_params", str(exc)) from None
        return runtime.settings

    # -- runtimes -----------------------------------------------------------

    async def _ensure_runtime(self, app: App, slug: Slug) -> None:
        if slug.source_dir is None:
            return
        runtime = self.runtimes.get(app.id)
        if runtime is None:
            build = self.builds.get(slug.id)
            await self._start_runtime(app, Path(slug.source_dir), build.bin_dir if build else None)

    async def _start_runtime(self, app: App, app_dir: Path, bin_dir: Path | None = None) -> AppRuntime:
        runtime = AppRuntime(
            app_id=app.id,
            app_name=app.name,
            app_dir=app_dir,
            logs=self.log_buffer(app),
            settings=self.settings,
            tls=self.tls,
            bin_dir=bin_dir,
        )
        self.runtimes[app.id] = runtime
        await runtime.start(host=self.host, router_port=0)
        runtime.maintenance = app.maintenance
        app.web_url = runtime.web_url
        return runtime

    async def close(self) -> None:
        """Stop every app's dynos (SIGTERM, SIGKILL after the grace) and routers, then add-on services."""
        try:
            for app in list(self.platform.apps.values()):
                await self.stop_one_offs(app)
            for app_id in list(self.runtimes):
                runtime = self.runtimes.pop(app_id)
                await runtime.close()
        finally:
            await self.services.close()
