"""Parity and side effects in the preflight of `harness run`, before any formation change.

`ParityPolicy.check` reads the staging app (and, when scenarios.yaml names
`target.production_app` and `parity` is not `off`, the production app), says
every difference and side effect on the progress stream, and with
`parity: refuse` raises `ParityError` (exit 2, a refusal before any change)
when a high-severity difference or an unacknowledged side effect is found.
Side effects are called out even without a production app: a capacity test
must not e-mail or bill anyone.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass

from harness.errors import ParityError
from harness.platform.heroku import HerokuClient
from harness.platform.parity import ParityReport, Severity, compare
from harness.platform.profile import read_profile
from harness.platform.side_effects import SideEffect, scan

__all__ = ["ParityError", "ParityMode", "ParityPolicy", "report_lines"]


class ParityMode(enum.StrEnum):
    """What a parity finding does to `harness run` (`target.parity`)."""

    WARN = "warn"  # say it, then test anyway
    REFUSE = "refuse"  # a high-severity difference or a side effect stops the run (exit 2)
    OFF = "off"  # no comparison (side effects are still called out)


def report_lines(report: ParityReport, *, minimum: Severity = Severity.LOW) -> list[str]:
    """A person's lines: the summary, each difference of `minimum` severity or worse, each side effect."""
    lines = [report.summary()]
    lines += [f"  {d.describe()}" for d in report.at_least(minimum)]
    lines += [f"  side effect: {e.describe()}" for e in report.side_effects]
    return lines


@dataclass(frozen=True, kw_only=True)
class ParityPolicy:
    """The run's parity settings: which production app, warn/refuse/off, acknowledged side effects."""

    production_app: str | None = None
    mode: ParityMode = ParityMode.WARN
    side_effects_ok: Collection[str] = ()
    tested_process_type: str = "web"

    def check(
        self, client: HerokuClient, staging: str, progress: Callable[[str], None]
    ) -> ParityReport | None:
        """Compare (or only scan for side effects), say what was found, refuse if the mode says so."""
        if self.production_app is None or self.mode is ParityMode.OFF:
            self._side_effects_only(client, staging, progress)
            return None
        key = secrets.token_bytes(32)  # the digests of this one comparison; never stored
        report = compare(
            read_profile(client, self.production_app, digest_key=key),
            read_profile(client, staging, digest_key=key),
            tested_process_type=self.tested_process_type,
            side_effects_ok=self.side_effects_ok,
        )
        for line in report_lines(report):
            progress(line)
        high = report.at_least(Severity.HIGH)
        if self.mode is ParityMode.REFUSE and (high or report.side_effects):
            raise ParityError(self._refusal(staging, [d.describe() for d in high], report.side_effects))
        return report

    def _side_effects_only(self, client: HerokuClient, staging: str, progress: Callable[[str], None]) -> None:
        profile = read_profile(client, staging)
        effects = scan(
            profile.config_var_names,
            [(a.name, a.service) for a in profile.addons],
            live_key_names=profile.live_key_names,
            acknowledged=self.side_effects_ok,
        )
        for effect in effects:
            progress(f"side effect: {effect.describe()}")
        if effects and self.mode is ParityMode.REFUSE:
            raise ParityError(self._refusal(staging, [], effects))

    def _refusal(self, staging: str, high: list[str], effects: Collection[SideEffect]) -> str:
        what = [*high, *(f"side effect: {e.describe()}" for e in effects)]
        return (
            f"{staging} is refused by parity: refuse ({len(what)} finding(s)): "
            + "; ".join(what)
            + ". Fix the staging app (`harness fork` makes a faithful copy), acknowledge a neutralised "
            "side effect in target.side_effects_ok, or set target.parity to warn."
        )
