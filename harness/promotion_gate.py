"""The release gate: promote the tested release only when every SLO held and nothing regressed.

`harness run --promote` and `harness ab --promote` end here. The decision
(`decide`) reads only run directories and, when there is one, the comparison
with the release before: every run complete, every verdict passed, and the
comparison's gate outcome PASS (an inconclusive one blocks unless the user
said `--inconclusive pass`, because "no regression proven" is not "no
regression"). Then `promote` moves the exact release tested — by id, never
"whatever is current now" — through the app's pipeline. Nothing is promoted
otherwise, and the reason is said.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.comparison import compare_sides
from harness.comparison.model import Comparison, GateOutcome, Side
from harness.comparison.run import DEFAULT_GATES, resolve_side
from harness.config import Config
from harness.errors import (
    EXIT_INCONCLUSIVE,
    EXIT_OK,
    EXIT_PLATFORM,
    EXIT_SLO_FAILED,
    ConfigError,
    HarnessError,
)
from harness.platform.promotion import PromotionResult, promote_release
from harness.platform.target import env_platform, uses_emulator
from harness.results.model import RunStatus
from harness.results.rundir import RunDir
from harness.results.store import RunStore

__all__ = ["GateDecision", "check_promotable", "decide", "gate_run", "previous_release"]


@dataclass
class GateDecision:
    """Whether to promote, which release, and the reasons (why not, or what the pass rests on)."""

    promote: bool
    release_version: int | None
    reasons: list[str] = field(default_factory=list)
    exit_code: int = EXIT_OK
    promotion: PromotionResult | None = None

    def lines(self) -> list[str]:
        """What the terminal shows of the gate."""
        if self.promotion is not None:
            return [*self.reasons, self.promotion.describe()]
        head = "promotion: " if self.promote else "not promoted: "
        return [head + "; ".join(self.reasons)]


def check_promotable(config: Config) -> None:
    """Refuse `--promote` before anything runs when there can be no pipeline to promote through."""
    if uses_emulator(config):
        raise ConfigError(
            "--promote needs a pipeline, and the emulator that `harness run` starts for itself has only "
            "the app under test: start one with `harness emulator serve`, couple the apps there (or use "
            "Heroku), point HEROKU_API_URL/HEROKU_API_KEY at it, or drop --promote.",
            field="--promote",
        )


def previous_release(store: RunStore, app: str, tested: int, exclude: Sequence[str]) -> Side | None:
    """The newest series of the newest release measured before `tested` (None: none measured)."""
    earlier = [
        s.release
        for s in store.history(app=app)
        if s.release is not None and s.release < tested and s.status == RunStatus.COMPLETE
    ]
    if not earlier:
        return None
    side = resolve_side(f"v{max(earlier)}", store, app=app)
    runs = tuple(r for r in side.runs if r.record.run_id not in exclude)
    return Side(label=side.label, runs=runs) if runs else None


def decide(
    runs: Sequence[RunDir], comparison: Comparison | None, *, inconclusive: str = "code"
) -> GateDecision:
    """The gate over the tested runs and the comparison with the base (None: nothing to compare)."""
    if not runs:
        return GateDecision(False, None, ["no run directory was written"], EXIT_SLO_FAILED)
    versions = {r.record.release.version for r in runs}
    version = versions.pop() if len(versions) == 1 else None
    reasons: list[str] = []
    code = EXIT_OK
    for run in runs:
        record = run.record
        if record.status != RunStatus.COMPLETE:
            reasons.append(f"run {record.run_id} is {record.status.value}")
            code = max(code, EXIT_SLO_FAILED)
        elif record.verdict is None or not record.verdict.passed:
            failed = ", ".join(record.verdict.failed_checks) if record.verdict else "not judged"
            reasons.append(f"run {record.run_id} did not pass ({failed})")
            code = max(code, EXIT_SLO_FAILED)
    if version is None:
        reasons.append("the runs measured more than one release")
        code = max(code, EXIT_SLO_FAILED)
    if comparison is None:
        if not reasons:
            reasons.append("every SLO held; no earlier release was measured, so nothing could regress")
    elif comparison.outcome is GateOutcome.REGRESSED:
        reasons.append(comparison.sentence)
        code = max(code, EXIT_SLO_FAILED)
    elif comparison.outcome is GateOutcome.INCONCLUSIVE and inconclusive != "pass":
        reasons.append(f"{comparison.sentence} (`--inconclusive pass` promotes anyway)")
        code = max(code, EXIT_INCONCLUSIVE if inconclusive == "code" else EXIT_SLO_FAILED)
    elif not reasons:
        reasons.append(f"every SLO held; against {comparison.base.label}: {comparison.sentence}")
    return GateDecision(code == EXIT_OK, version, reasons, code)


def gate_run(
    config: Config,
    app: str,
    run_dirs: Sequence[Path],
    *,
    comparison: Comparison | None = None,
    compare_with_previous: bool = True,
    inconclusive: str = "code",
    margin: float = 0.05,
    to: Sequence[str] = (),
    progress: Callable[[str], None] = lambda _: None,
) -> GateDecision:
    """Decide on the finished runs, then promote through the environment's platform if they pass."""
    store = RunStore(config.reports_dir)
    runs = [store.open(path) for path in run_dirs]
    if comparison is None and compare_with_previous and runs:
        tested = runs[0].record.release.version
        base = (
            None if tested is None else previous_release(store, app, tested, [r.record.run_id for r in runs])
        )
        if base is not None:
            new = Side(label=f"v{tested}", runs=tuple(runs))
            comparison = compare_sides(base, new, margin=margin, gates=DEFAULT_GATES)
    decision = decide(runs, comparison, inconclusive=inconclusive)
    if not decision.promote or decision.release_version is None:
        return decision
    target = env_platform()
    try:
        decision.promotion = promote_release(
            target.client, app, decision.release_version, to=to, progress=progress
        )
    except HarnessError as exc:
        decision.reasons.append(f"the promotion failed: {exc}")
        decision.promote, decision.exit_code = False, exc.exit_code
        return decision
    finally:
        target.client.close()
    if not decision.promotion.succeeded:
        decision.exit_code = EXIT_PLATFORM
    return decision
