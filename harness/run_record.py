"""What run.json records of the platform: the app, the release, the formations, the scale-up.

The one place that copies the platform's facts (`platform.guard.PreflightFacts`,
`platform.formation.ScaleResult`) into the run record's models
(`results.model`), field by field, so neither layer imports the other.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from harness.config import Config, Scenario
from harness.measurements import ScenarioKind
from harness.platform.formation import ScaleResult
from harness.platform.guard import PreflightFacts
from harness.platform.models import Formation
from harness.platform.target import PlatformTarget
from harness.results.model import (
    DynoGroup,
    LevelInfo,
    LoadGeneratorInfo,
    PlannedScenario,
    PlatformInfo,
    ReleaseInfo,
    RunMeta,
    ScaleUp,
)

__all__ = ["dyno_groups", "run_meta", "scale_up"]


def dyno_groups(formation: Formation, prices: dict[str, float]) -> list[DynoGroup]:
    """Each process type with its quantity, size and USD per dyno-hour (None: no known price)."""
    return [
        DynoGroup(
            type=p.type,
            quantity=p.quantity,
            size=p.size,
            dyno_cost_per_hour_usd=prices.get(p.size.casefold()),
        )
        for p in formation
    ]


def scale_up(result: ScaleResult) -> ScaleUp:
    """The scale-up latency and the boot time of each dyno it started."""
    boots = {d.name: d.seen_up_after_s for d in result.dynos if not d.preexisting}
    return ScaleUp(
        latency_s=result.scale_up_latency_s,
        dyno_boot_s={name: s for name, s in boots.items() if s is not None},
    )


def run_meta(
    config: Config,
    platform: PlatformTarget,
    facts: PreflightFacts,
    *,
    workers: int,
    scenarios: Sequence[Scenario] = (),
) -> RunMeta:
    """What run.json records about the app and the release before the test starts (with the
    scenarios it is to run, so an interrupted run can say which it never reached)."""
    release, slug, peak = facts.release, facts.slug, config.expected_peak
    return RunMeta(
        planned_scenarios=[PlannedScenario(name=s.name, kind=ScenarioKind(s.kind)) for s in scenarios],
        platform=PlatformInfo(
            kind=platform.kind.value,
            api_host=platform.client.api_host,
            app_url=facts.app.web_url,
            region=facts.app.region.name if facts.app.region else None,
            stack=facts.app.stack.name if facts.app.stack else None,
        ),
        release=ReleaseInfo(
            version=release.version,
            description=release.description or "",
            commit=slug.commit if slug else None,
            created_at=release.created_at,
            user=release.user_email,
        ),
        slug_size_bytes=slug.size if slug else None,
        process_type=config.target.process_type,
        formation_original=dyno_groups(facts.formation, facts.prices),
        expected_peak=LevelInfo(mode=peak.mode, value=peak.value),
        required_headroom=config.required_headroom,
        load_generator=LoadGeneratorInfo(workers=workers, host=os.uname().nodename, cpu_count=os.cpu_count()),
    )
