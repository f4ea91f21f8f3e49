"""What `harness run` prints for a person: phase headers, progress lines, the plan of a dry run.

On stderr, so stdout stays for machines (`--json`). The pipeline reports to
any `pipeline.RunEvents`; `Console` is the terminal's.
"""

from __future__ import annotations

import sys
from typing import TextIO

from harness.capacity.dry_run import TestPlan
from harness.measurements import ScenarioResult
from harness.pipeline import Phase
from harness.report.outcomes import result_outcome

__all__ = ["Console", "plan_lines", "scenario_line"]


class Console:
    """Phase headers and progress lines for a person (nothing when quiet)."""

    def __init__(self, *, quiet: bool, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr

    def phase(self, phase: Phase, detail: str = "") -> None:
        """`== scale: web=2:Standard-1X`."""
        if not self.quiet:
            print(f"== {phase.value}{': ' + detail if detail else ''}", file=self.stream, flush=True)

    def info(self, text: str) -> None:
        """A line of progress."""
        if not self.quiet:
            print(f"   {text}", file=self.stream, flush=True)

    def scenario_done(self, result: ScenarioResult) -> None:
        """The one line that ends a scenario."""
        self.info(scenario_line(result))


def scenario_line(result: ScenarioResult) -> str:
    """`shop-load: failed (p95_ms 412 ms > 300 ms); breaking point ≈ 96 req/s (saturation)`, or for one
    that ended early what it did not do: `search-stress: interrupted during probe 2 — no breaking point`."""
    outcome = result_outcome(result)
    if outcome.stopped_in is not None:
        return outcome.sentence()
    failed = [v.describe() for v in result.verdicts if not v.passed]
    text = f"{result.name}: {result.status}"
    if failed:
        text += " (" + "; ".join(failed) + ")"
    point = result.breaking_point
    if point is not None and point.sustainable_rps is not None:
        text += f"; breaking point ≈ {point.sustainable_rps:,.0f} req/s ({point.criterion or point.status})"
    return text


def plan_lines(plan: TestPlan) -> list[str]:
    """The dry-run plan as text for a person."""
    out = [f"app {plan.app} on {plan.platform}"]
    for formation, cost in zip(plan.formations, plan.cost_per_hour_usd, strict=True):
        price = f" (${cost:.2f}/hour)" if cost is not None else ""
        out.append(f"  formation under test: {formation}{price}")
    for s in plan.scenarios:
        note = f", {s.estimate_note}" if s.estimate_note else ""
        out.append(f"  {s.kind:<6} {s.name}: {s.levels}; ~{s.estimate_s:.0f} s{note}")
    minutes = plan.load_s / 60
    repeats = f" ({plan.repeats} repeats)" if plan.repeats > 1 else ""
    out.append(f"  load time ≈ {minutes:.1f} min per formation{repeats} (plus scale-up and restore)")
    cost = plan.estimated_cost_usd
    price = f"estimated dyno cost ≈ ${cost:.2f}" if cost is not None else "price unknown"
    every = f"all {len(plan.formations)} formations" if len(plan.formations) > 1 else "the formation"
    out.append(f"  test cost: {plan.dyno_hours:.2f} dyno-hours, {price} ({every}, load + scale-up time)")
    if len(plan.formations) > 1:
        out.append("  one run: the formations in turn, one run directory, one report with the capacity plan")
    return out
