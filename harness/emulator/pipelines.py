"""Pipelines, couplings and promotions: Heroku's rules for moving a tested release to the next stage.

Pure data plus rules, like `state.py` (NOTES §2.11): a pipeline has a name
(`^[a-z][a-z0-9-]{2,29}$`, unique); an app is coupled to at most one
pipeline, at one stage; a promotion names its pipeline, a source app of that
pipeline (and optionally the exact release), and target apps of the same
pipeline. The promotion itself — each target gets a new release with the
source release's slug and its *own* config vars, as on Heroku — is carried out
by the HTTP layer (`api_pipelines.py`) through the controller, so dynos restart.
Apps deleted since a coupling was made drop out of every list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from harness.emulator.api_error import ApiError, invalid, not_found
from harness.emulator.models import App, Clock, Release, new_id, utc_now
from harness.emulator.state import Platform

__all__ = [
    "STAGES",
    "Coupling",
    "Pipeline",
    "PipelineStore",
    "Promotion",
    "PromotionTarget",
]

PIPELINE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{2,29}$")
STAGES = ("test", "review", "development", "staging", "production")


@dataclass(kw_only=True)
class Pipeline:
    """A named pipeline of the account."""

    id: str
    name: str
    created_at: datetime
    updated_at: datetime


@dataclass(kw_only=True)
class Coupling:
    """An app's place in a pipeline."""

    id: str
    app_id: str
    pipeline_id: str
    stage: str
    created_at: datetime
    updated_at: datetime


@dataclass(kw_only=True)
class PromotionTarget:
    """One target app of a promotion: pending until its release is made (or fails)."""

    id: str
    app_id: str
    status: str = "pending"
    release_id: str | None = None
    error_message: str | None = None


@dataclass(kw_only=True)
class Promotion:
    """A promotion of one source release to the target apps."""

    id: str
    pipeline_id: str
    source_app_id: str
    source_release_id: str
    created_at: datetime
    updated_at: datetime
    targets: list[PromotionTarget] = field(default_factory=list)

    @property
    def status(self) -> str:
        """`completed` once no target is pending (Heroku's two promotion statuses)."""
        return "pending" if any(t.status == "pending" for t in self.targets) else "completed"


class PipelineStore:
    """Every pipeline, coupling and promotion of the account."""

    def __init__(self, platform: Platform, clock: Clock = utc_now) -> None:
        self.platform, self.clock = platform, clock
        self.pipelines: dict[str, Pipeline] = {}
        self._couplings: dict[str, Coupling] = {}
        self.promotions: dict[str, Promotion] = {}

    # -- pipelines ----------------------------------------------------------

    def create_pipeline(self, name: object) -> Pipeline:
        """A new pipeline; 422 for a bad or taken name."""
        self._check_name(name)
        assert isinstance(name, str)
        now = self.clock()
        pipeline = Pipeline(id=new_id(), name=name, created_at=now, updated_at=now)
        self.pipelines[pipeline.id] = pipeline
        return pipeline

    def find_pipeline(self, identity: str) -> Pipeline:
        """A pipeline by id or name; 404 otherwise."""
        for pipeline in self.pipelines.values():
            if identity in (pipeline.id, pipeline.name):
                return pipeline
        raise not_found("pipeline")

    def rename_pipeline(self, pipeline: Pipeline, name: object) -> Pipeline:
        """`PATCH /pipelines/{id} {name}`."""
        if name != pipeline.name:
            self._check_name(name)
            assert isinstance(name, str)
            pipeline.name = name
        pipeline.updated_at = self.clock()
        return pipeline

    def delete_pipeline(self, pipeline: Pipeline) -> Pipeline:
        """Remove a pipeline and uncouple its apps (the apps themselves stay)."""
        del self.pipelines[pipeline.id]
        for coupling in list(self._couplings.values()):
            if coupling.pipeline_id == pipeline.id:
                del self._couplings[coupling.id]
        return pipeline

    def _check_name(self, name: object) -> None:
        if not isinstance(name, str) or not PIPELINE_NAME_PATTERN.match(name):
            raise invalid(
                "Name must start with a letter and can only contain lowercase letters, numbers, "
                "and dashes (3 to 30 characters)."
            )
        if any(p.name == name for p in self.pipelines.values()):
            raise invalid("Name is already taken")

    # -- couplings ----------------------------------------------------------

    @property
    def couplings(self) -> list[Coupling]:
        """Couplings of apps that still exist, oldest first."""
        live = {app.id for app in self.platform.apps.values()}
        return [c for c in self._couplings.values() if c.app_id in live]

    def couple(self, app: App, pipeline: Pipeline, stage: object) -> Coupling:
        """Put an app into a pipeline at a stage; an app belongs to one pipeline at most."""
        self._check_stage(stage)
        assert isinstance(stage, str)
        if any(c.app_id == app.id for c in self.couplings):
            raise invalid(f"{app.name} is already part of a pipeline.")
        now = self.clock()
        coupling = Coupling(
            id=new_id(), app_id=app.id, pipeline_id=pipeline.id, stage=stage, created_at=now, updated_at=now
        )
        self._couplings[coupling.id] = coupling
        return coupling

    def find_coupling(self, identity: str) -> Coupling:
        """A coupling by id; 404 otherwise."""
        coupling = next((c for c in self.couplings if c.id == identity), None)
        if coupling is None:
            raise not_found("pipeline coupling")
        return coupling

    def coupling_of(self, app: App) -> Coupling:
        """The app's coupling (`GET /apps/{app}/pipeline-couplings`); 404 when it is in no pipeline."""
        coupling = next((c for c in self.couplings if c.app_id == app.id), None)
        if coupling is None:
            raise ApiError(404, "not_found", f"Couldn't find that pipeline coupling for {app.name}.")
        return coupling

    def restage(self, coupling: Coupling, stage: object) -> Coupling:
        """`PATCH /pipeline-couplings/{id} {stage}`."""
        self._check_stage(stage)
        assert isinstance(stage, str)
        coupling.stage, coupling.updated_at = stage, self.clock()
        return coupling

    def uncouple(self, coupling: Coupling) -> Coupling:
        """`DELETE /pipeline-couplings/{id}`."""
        del self._couplings[coupling.id]
        return coupling

    @staticmethod
    def _check_stage(stage: object) -> None:
        if stage not in STAGES:
            raise invalid(f"Stage must be one of {', '.join(STAGES)}.")

    # -- promotions ---------------------------------------------------------

    def start_promotion(
        self, pipeline: Pipeline, source: App, release_id: str | None, targets: Iterable[App]
    ) -> tuple[Promotion, Release]:
        """Validate a promotion and record it as pending; the caller then releases to each target."""
        coupled = {c.app_id for c in self.couplings if c.pipeline_id == pipeline.id}
        if source.id not in coupled:
            raise invalid(f"{source.name} is not part of pipeline {pipeline.name}.")
        target_apps = list(targets)
        if not target_apps:
            raise invalid("Require at least one target app.")
        for target in target_apps:
            if target.id not in coupled:
                raise invalid(f"{target.name} is not part of pipeline {pipeline.name}.")
            if target.id == source.id:
                raise invalid("An app cannot be promoted to itself.")
        release = self.platform.find_release(source, release_id) if release_id else source.current_release
        if release is None or release.slug_id is None or release.status != "succeeded":
            raise invalid(f"{source.name} has no succeeded release with a slug to promote.")
        now = self.clock()
        promotion = Promotion(
            id=new_id(),
            pipeline_id=pipeline.id,
            source_app_id=source.id,
            source_release_id=release.id,
            created_at=now,
            updated_at=now,
            targets=[PromotionTarget(id=new_id(), app_id=t.id) for t in target_apps],
        )
        self.promotions[promotion.id] = promotion
        return promotion, release

    def find_promotion(self, identity: str) -> Promotion:
        """A promotion by id; 404 otherwise."""
        promotion = self.promotions.get(identity)
        if promotion is None:
            raise not_found("pipeline promotion")
        return promotion

    def settle(
        self, promotion: Promotion, target: PromotionTarget, release: Release | None, error: str | None
    ) -> None:
        """Record one target's outcome: the release made on it, or why it failed."""
        target.status = "succeeded" if release is not None else "failed"
        target.release_id = release.id if release is not None else None
        target.error_message = error
        promotion.updated_at = self.clock()
