"""Promote a tested release through the app's Heroku pipeline, as `heroku pipelines:promote` does.

The CLI's steps (NOTES §2.11, §4): the app's coupling (`GET
/apps/{app}/pipeline-couplings`), the pipeline's couplings, the targets — the
apps of the next stage after the tested app's (review → development →
staging → production), or those named — then `POST /pipeline-promotions`
naming the **exact release tested** (`source.release`: never "whatever is
current now"), and polling `GET /pipeline-promotions/{id}/promotion-targets`
until no target is pending. A promotion is a POST that creates: never retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from harness.errors import PlatformError
from harness.platform.heroku import HerokuClient

__all__ = ["STAGE_ORDER", "PromotionResult", "TargetOutcome", "promote_release"]

STAGE_ORDER = ("test", "review", "development", "staging", "production")
POLL_S = 1.0


class _Api(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Ref(_Api):
    id: str


class _Coupling(_Api):
    id: str
    app: _Ref
    pipeline: _Ref
    stage: str


class _Target(_Api):
    id: str
    app: _Ref
    release: _Ref | None = None
    status: str
    error_message: str | None = None


@dataclass(frozen=True)
class TargetOutcome:
    """What became of one target app: its name, status, and the release version made on it."""

    app: str
    status: str  # succeeded | failed | pending (timed out)
    release_version: int | None
    error: str | None


@dataclass(frozen=True)
class PromotionResult:
    """A finished promotion: which release went where."""

    promotion_id: str
    source_app: str
    release_version: int
    stage: str
    targets: tuple[TargetOutcome, ...]

    @property
    def succeeded(self) -> bool:
        """Every target has the release."""
        return all(t.status == "succeeded" for t in self.targets)

    def describe(self) -> str:
        """One sentence for the terminal and the run's events."""
        parts = [
            f"{t.app} v{t.release_version}" if t.status == "succeeded" else f"{t.app} {t.status}: {t.error}"
            for t in self.targets
        ]
        return f"promoted {self.source_app} v{self.release_version} ({self.stage}) to " + ", ".join(parts)


def _next_stage(stage: str, present: Sequence[str]) -> str | None:
    """The first stage after `stage` that has apps (the CLI promotes to the next populated stage)."""
    later = STAGE_ORDER[STAGE_ORDER.index(stage) + 1 :] if stage in STAGE_ORDER else ()
    return next((s for s in later if s in present), None)


def _coupling(client: HerokuClient, app: str) -> _Coupling:
    try:
        response = client.request("GET", f"/apps/{app}/pipeline-couplings", idempotent=True, app=app)
    except PlatformError as exc:
        if exc.status == 404:
            raise PlatformError(
                f"{app} is in no pipeline, so there is nothing to promote to: couple it with "
                "`heroku pipelines:add` (stage staging) and add a production app, or drop --promote.",
                status=404,
                app=app,
            ) from None
        raise
    return _Coupling.model_validate(response.json())


def _app_name(client: HerokuClient, app_id: str) -> str:
    response = client.request("GET", f"/apps/{app_id}", idempotent=True)
    return str(response.json().get("name") or app_id)


def _release_id(client: HerokuClient, app: str, version: int) -> str:
    response = client.request("GET", f"/apps/{app}/releases/{version}", idempotent=True, app=app)
    return str(response.json()["id"])


def _targets(
    client: HerokuClient, coupling: _Coupling, named: Sequence[str]
) -> tuple[str, list[tuple[str, str]]]:
    """The stage promoted to and its apps as (id, name): the named ones, or the next stage's."""
    response = client.request("GET", f"/pipelines/{coupling.pipeline.id}/pipeline-couplings", idempotent=True)
    couplings = [_Coupling.model_validate(c) for c in response.json()]
    others = [(c, _app_name(client, c.app.id)) for c in couplings if c.app.id != coupling.app.id]
    if named:
        chosen = [(c.app.id, name) for c, name in others if name in named or c.app.id in named]
        missing = sorted(set(named) - {name for _, name in chosen} - {i for i, _ in chosen})
        if missing:
            raise PlatformError(
                f"--promote-to names {', '.join(missing)}, which are not in this app's pipeline."
            )
        return "the named apps", chosen
    stage = _next_stage(coupling.stage, [c.stage for c, _ in others])
    if stage is None:
        raise PlatformError(
            f"the pipeline has no stage after {coupling.stage} with apps in it: nothing to promote to."
        )
    return stage, [(c.app.id, name) for c, name in others if c.stage == stage]


def promote_release(
    client: HerokuClient,
    app: str,
    version: int,
    *,
    to: Sequence[str] = (),
    timeout_s: float = 300.0,
    progress: Callable[[str], None] = lambda _: None,
    sleep: Callable[[float], None] = time.sleep,
) -> PromotionResult:
    """Promote release `version` of `app` to the next stage (or the apps named in `to`); wait for it."""
    coupling = _coupling(client, app)
    stage, targets = _targets(client, coupling, to)
    release_id = _release_id(client, app, version)
    body = {
        "pipeline": {"id": coupling.pipeline.id},
        "source": {"app": {"id": coupling.app.id}, "release": {"id": release_id}},
        "targets": [{"app": {"id": app_id}} for app_id, _ in targets],
    }
    progress(f"promoting {app} v{version} to {', '.join(name for _, name in targets)} ({stage})")
    response = client.request("POST", "/pipeline-promotions", body=body, idempotent=False, app=app)
    promotion_id = str(response.json()["id"])
    names = dict(targets)
    deadline = time.monotonic() + timeout_s
    while True:
        listed = client.request(
            "GET", f"/pipeline-promotions/{promotion_id}/promotion-targets", idempotent=True
        ).json()
        states = [_Target.model_validate(t) for t in listed]
        if all(t.status != "pending" for t in states) or time.monotonic() > deadline:
            break
        sleep(POLL_S)
    outcomes = tuple(_outcome(client, t, names) for t in states)
    return PromotionResult(
        promotion_id=promotion_id, source_app=app, release_version=version, stage=stage, targets=outcomes
    )


def _outcome(client: HerokuClient, target: _Target, names: dict[str, str]) -> TargetOutcome:
    name = names.get(target.app.id, target.app.id)
    version = None
    if target.release is not None:
        made = client.request("GET", f"/apps/{target.app.id}/releases/{target.release.id}", idempotent=True)
        version = int(made.json()["version"])
    error = target.error_message or (
        "still pending when harness stopped waiting" if target.status == "pending" else None
    )
    return TargetOutcome(app=name, status=target.status, release_version=version, error=error)
