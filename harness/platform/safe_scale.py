"""The one safe-scale sequence of `harness run` and `harness scale`: every refusal, then the change.

`SafeScale` runs everything that can refuse, in order, before anything
changes. Offline first (`refuse_offline`, before a client or an emulator
exists): the app is a named target and not protected, and no journal of an
earlier run is left. Then read-only against the platform (`clear`):
preflight (token, app, maintenance, release, process type, the app's URL
answers), parity with the production app and side effects (`parity_check`),
each target formation within the dyno and cost ceilings unless
confirmed, and the offered load within Heroku's load-testing guideline. Only
then does `session` journal and scale (`formation.FormationSession`), which
restores on every exit path.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from harness.config import FormationSpec, Guards
from harness.platform.formation import FormationSession
from harness.platform.guard import (
    PreflightFacts,
    check_app_allowed,
    check_formation_limits,
    check_offered_rate,
    preflight,
    price_table,
)
from harness.platform.journal import Journal, JournalStore
from harness.platform.models import Formation, ProcessChange, ProcessFormation, canonical_size, merge
from harness.platform.parity import ParityReport
from harness.platform.parity_check import ParityPolicy
from harness.platform.recovery import emulator_alive, explain_journal, forget_emulator, is_emulator_journal
from harness.platform.signals import SignalPolicy
from harness.platform.target import PlatformTarget

__all__ = [
    "Cleared",
    "SafeScale",
    "spec_changes",
    "target_formation",
    "tested_process",
]

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    """The default progress sink: say nothing."""


def tested_process(spec: FormationSpec, process_type: str) -> ProcessFormation:
    """The process type under test at the spec's quantity and (canonical) size."""
    return ProcessFormation(type=process_type, quantity=spec.quantity, size=canonical_size(spec.size))


def spec_changes(spec: FormationSpec, process_type: str) -> tuple[ProcessChange, ...]:
    """A formation spec of scenarios.yaml as the change it asks for."""
    process = tested_process(spec, process_type)
    return (ProcessChange(type=process.type, quantity=process.quantity, size=process.size),)


def target_formation(current: Formation, spec: FormationSpec, process_type: str) -> Formation:
    """The formation under test: `process_type` at spec's quantity and size; other types unchanged."""
    return merge(current, spec_changes(spec, process_type))


@dataclass(frozen=True)
class Cleared:
    """What `SafeScale.clear` found: the preflight facts, each target formation and its USD/hour."""

    facts: PreflightFacts
    targets: tuple[Formation, ...]
    costs_per_hour_usd: tuple[float, ...]
    parity: ParityReport | None = None  # staging vs production, when a production app is named


def _emulator_gone(journal: Journal) -> bool:
    """A journal of an emulator that is no longer running (it stopped with its dynos)."""
    if journal.emulator is not None:
        return not emulator_alive(journal.emulator)
    return is_emulator_journal(journal)  # written before journals named their emulator


@dataclass(frozen=True, kw_only=True)
class SafeScale:
    """The sequence for one app: `refuse_offline()`, then `clear(platform, changes)`, then `session()`.

    `targets`: the apps named as targets; `protected`: apps never touched; `offered_rps`: the
    highest arrival rates the test may offer (Heroku's guideline); `confirmed`: `--yes`."""

    app: str
    targets: Collection[str]
    protected: Collection[str]
    guards: Guards
    confirmed: bool
    store: JournalStore
    process_type: str = "web"
    offered_rps: Sequence[float] = ()
    approval_ref: str | None = None
    progress: Progress = _quiet
    parity: ParityPolicy | None = None  # staging vs production and side effects, in `clear`

    def refuse_offline(
        self,
        formations: Sequence[Formation] = (),
        *,
        local: bool = False,
        fresh_emulator: bool = False,
        dry_run: bool = False,
    ) -> None:
        """What refuses before any platform call: not a target, protected, a journal left behind,
        and `formations` (the tested process types alone) over the ceilings at built-in prices.

        With `fresh_emulator` (harness is about to start its own emulator), a journal left by an
        earlier emulator run is discarded, unless `dry_run`: that emulator died with its dynos."""
        check_app_allowed(self.app, targets=self.targets, protected=self.protected)
        journal = self.store.read(self.app)
        if journal is not None and fresh_emulator and _emulator_gone(journal):
            explained = explain_journal(journal, self.store.path_for(self.app))
            self.progress(f"{explained} ({'a real run removes it' if dry_run else 'removed'})")
            if dry_run:
                journal = None
            else:
                self.store.delete(self.app)
                forget_emulator(self.store, self.app, journal.emulator)
        if journal is not None:
            self.store.ensure_absent(self.app)
        for formation in formations:
            self.check_formation(formation, local=local, prices=price_table())

    def clear(self, platform: PlatformTarget, changes: Sequence[Sequence[ProcessChange]]) -> Cleared:
        """The read-only platform checks: preflight, then each target within the ceilings and the
        offered load within the guideline. Nothing has changed when this raises."""
        facts = preflight(
            platform.client,
            self.app,
            local=platform.local,
            process_type=self.process_type,
            verify=platform.tls_verify(),
        )
        report = self.parity.check(platform.client, self.app, self.progress) if self.parity else None
        formations = tuple(merge(facts.formation, change) for change in changes)
        costs = tuple(self.check_formation(f, local=platform.local, prices=facts.prices) for f in formations)
        return Cleared(facts=facts, targets=formations, costs_per_hour_usd=costs, parity=report)

    def check_formation(self, formation: Formation, *, local: bool, prices: Mapping[str, float]) -> float:
        """The ceilings (unless confirmed) and the offered-load guideline; returns the USD/hour."""
        cost = check_formation_limits(
            formation,
            max_dynos_per_type=self.guards.max_dynos_per_type,
            max_cost_per_hour_usd=self.guards.max_cost_per_hour_usd,
            prices=prices,
            confirmed=self.confirmed,
        )
        for rate in self.offered_rps:
            check_offered_rate(
                rate,
                emulator=local,
                approval_ref=self.approval_ref,
                formation=formation,
                process_type=self.process_type,
            )
        return cost

    def session(
        self,
        platform: PlatformTarget,
        target: Formation,
        *,
        timeout_s: float,
        keep_scaled: bool = False,
        signals: SignalPolicy | None = None,
    ) -> FormationSession:
        """The journaled change to a cleared target: enter it to scale and wait, leave it to restore
        (on success too, unless `keep_scaled`: `harness scale` leaves that to `harness restore`)."""
        return FormationSession(
            platform.client,
            self.app,
            target,
            store=self.store,
            timeout_s=timeout_s,
            restore_on_success=not keep_scaled,
            signals=signals,
            emulator=platform.emulator_ref,
            progress=self.progress,
        )
