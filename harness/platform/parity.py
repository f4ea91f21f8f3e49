"""Staging/production parity: every difference that decides whether a capacity test transfers.

`compare` is pure: two `AppProfile`s in, a `ParityReport` out. It checks stack
and region, process types and their commands, the dyno size per process type
(quantities are the test's to set, so they are not compared), add-on services
and plans, config var names (values only as keyed digests, when both profiles
carry them), the deployed commit, buildpacks when the API gave them, and
maintenance mode. Each `Difference` has a `Severity` and says in words what it
does to a capacity test. The staging app's side effects (mail, SMS, payments)
ride along. Config vars an add-on set (DATABASE_URL …) are compared as the
add-on, and harness's own fork marker is never compared.
"""

from __future__ import annotations

from collections.abc import Collection

from pydantic import BaseModel, ConfigDict

from harness.platform.models import same_size
from harness.platform.profile import FORK_MARKER, AppProfile, ProfileAddOn
from harness.platform.side_effects import Severity, SideEffect, scan

__all__ = ["Difference", "ParityReport", "Severity", "compare", "is_concurrency_var", "is_data_service"]

_DATA_WORDS: tuple[str, ...] = ("postgres", "redis", "memcach", "kafka", "elastic", "bonsai", "searchbox")
_DATA_WORDS += ("mongo", "mysql", "cleardb", "jawsdb", "amqp", "rabbit")
_CONCURRENCY_WORDS = ("CONCURRENCY", "WORKERS", "THREADS", "POOL", "GUNICORN", "PUMA", "UVICORN")


def is_data_service(service: str) -> bool:
    """Databases, caches, queues, search: where a plan sets the capacity of every request."""
    return any(word in service.lower() for word in _DATA_WORDS)


def is_concurrency_var(name: str) -> bool:
    """Config vars that set how much work one dyno does at once (WEB_CONCURRENCY, DB_POOL …)."""
    return any(word in name.upper() for word in _CONCURRENCY_WORDS)


class Difference(BaseModel):
    """One way staging differs from production, how much it matters, and what it does to the test."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    aspect: str  # stack, region, process type, command, dyno size, add-on, add-on plan, config var, ...
    subject: str  # what differs: a process type, a service, a config var name ('' for the app)
    production: str | None
    staging: str | None
    severity: Severity
    effect: str

    def describe(self) -> str:
        """`high dyno size web: production Standard-2X, staging Standard-1X: …`."""
        where = f" {self.subject}" if self.subject else ""
        return (
            f"{self.severity} {self.aspect}{where}: production {self.production or '(none)'}, "
            f"staging {self.staging or '(none)'}: {self.effect}"
        )


class ParityReport(BaseModel):
    """The comparison of one staging app with its production app."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    production: str
    staging: str
    differences: tuple[Difference, ...] = ()
    side_effects: tuple[SideEffect, ...] = ()
    values_compared: bool = False

    @property
    def passed(self) -> bool:
        """No difference of high or medium severity (low and info ones do not move a result)."""
        return not any(d.severity in (Severity.HIGH, Severity.MEDIUM) for d in self.differences)

    def at_least(self, severity: Severity) -> list[Difference]:
        """The differences of `severity` or worse."""
        return [d for d in self.differences if d.severity.rank <= severity.rank]

    def summary(self) -> str:
        """One line: `parity shop-staging vs shop: 2 high, 1 low; 1 side effect`."""
        counts = [f"{n} {s}" for s in Severity if (n := sum(d.severity is s for d in self.differences))] or [
            "no differences"
        ]
        effects = len(self.side_effects)
        tail = f"; {effects} side effect{'s' if effects != 1 else ''}" if effects else ""
        return f"parity {self.staging} vs {self.production}: {', '.join(counts)}{tail}"


def _diff(
    aspect: str, subject: str, production: str | None, staging: str | None, severity: Severity, effect: str
) -> Difference:
    return Difference(
        aspect=aspect,
        subject=subject,
        production=production,
        staging=staging,
        severity=severity,
        effect=effect,
    )


def _platform(prod: AppProfile, stage: AppProfile) -> list[Difference]:
    found = []
    if prod.stack != stage.stack:
        found.append(
            _diff(
                "stack",
                "",
                prod.stack,
                stage.stack,
                Severity.HIGH,
                "another OS image and language runtimes: CPU and memory per request may differ, "
                "so per-dyno throughput will not transfer.",
            )
        )
    if prod.region != stage.region:
        found.append(
            _diff(
                "region",
                "",
                prod.region,
                stage.region,
                Severity.MEDIUM,
                "other network paths to clients and to add-ons: latency figures will not transfer "
                "(throughput per dyno mostly does).",
            )
        )
    if stage.maintenance:
        found.append(
            _diff(
                "maintenance",
                "",
                str(prod.maintenance).lower(),
                "true",
                Severity.HIGH,
                "the router answers every request with H80 (503): the test would measure the "
                "maintenance page. Turn it off first.",
            )
        )
    elif prod.maintenance:
        found.append(
            _diff(
                "maintenance",
                "",
                "true",
                "false",
                Severity.INFO,
                "production is in maintenance mode; no effect on testing staging.",
            )
        )
    if prod.buildpacks is not None and stage.buildpacks is not None and prod.buildpacks != stage.buildpacks:
        found.append(
            _diff(
                "buildpacks",
                "",
                ", ".join(prod.buildpacks) or "(none)",
                ", ".join(stage.buildpacks) or "(none)",
                Severity.MEDIUM,
                "the next build of staging differs from production's (runtime versions, "
                "installed tools); the running slug is what the test measures.",
            )
        )
    return found


def _code(prod: AppProfile, stage: AppProfile) -> list[Difference]:
    if prod.commit == stage.commit and prod.commit is not None:
        return []
    if prod.commit is None or stage.commit is None:
        return [
            _diff(
                "commit",
                "",
                prod.commit,
                stage.commit,
                Severity.INFO,
                "the deployed commit of one side is unknown (no slug, or a slug without commit): "
                "check by hand that staging runs production's code.",
            )
        ]
    return [
        _diff(
            "commit",
            "",
            prod.commit[:12],
            stage.commit[:12],
            Severity.HIGH,
            "staging runs other code: results describe that commit, not production's. Release "
            "production's slug to staging (`harness fork` does).",
        )
    ]


def _process_types(prod: AppProfile, stage: AppProfile, tested: str | None) -> list[Difference]:
    found = []
    for kind in sorted(set(prod.process_types) | set(stage.process_types)):
        mine, theirs = prod.process_types.get(kind), stage.process_types.get(kind)
        web = kind == "web"
        if theirs is None:
            found.append(
                _diff(
                    "process type",
                    kind,
                    mine,
                    None,
                    Severity.HIGH if web else Severity.MEDIUM,
                    "staging has no web process: it cannot serve the test."
                    if web
                    else f"production's {kind} work (queues, schedules) does not run on staging: load "
                    "that depends on it behaves differently.",
                )
            )
        elif mine is None:
            found.append(
                _diff(
                    "process type",
                    kind,
                    None,
                    theirs,
                    Severity.LOW,
                    f"staging has a {kind} process production lacks; it may add load of its own.",
                )
            )
        elif mine.strip() != theirs.strip():
            found.append(
                _diff(
                    "command",
                    kind,
                    mine,
                    theirs,
                    Severity.HIGH if web else Severity.MEDIUM,
                    f"another {kind} command (server, workers, threads): throughput per dyno will "
                    "not transfer.",
                )
            )
    for process in prod.formation:
        other = stage.formation.get(process.type)
        if other is None or same_size(process.size, other.size):
            continue
        tested_here = process.type == tested
        effect = (
            "harness scales this process type to the formation under test, so its size there is the "
            "test's, not staging's."
            if tested_here
            else f"{process.type} dynos of another size have other CPU and memory: per-dyno throughput "
            "and memory headroom will not transfer."
        )
        severity = Severity.INFO if tested_here else Severity.HIGH
        found.append(_diff("dyno size", process.type, process.size, other.size, severity, effect))
    return found


def _plan_effect(service: str, prod_plan: str, stage_plan: str) -> str:
    short = prod_plan.split(":", 1)[-1]
    if is_data_service(service):
        return f"staging uses {stage_plan}, production {short}: results bound by {service} will not transfer."
    return f"staging uses {stage_plan}, production {short}: limits of the add-on's plan differ."


def _by_service(addons: tuple[ProfileAddOn, ...]) -> dict[str, list[ProfileAddOn]]:
    grouped: dict[str, list[ProfileAddOn]] = {}
    for addon in addons:
        grouped.setdefault(addon.service, []).append(addon)
    return grouped


def _addons(prod: AppProfile, stage: AppProfile) -> list[Difference]:
    found = []
    mine, theirs = _by_service(prod.addons), _by_service(stage.addons)
    for service in sorted(set(mine) | set(theirs)):
        prod_plans = sorted(a.plan for a in mine.get(service, []))
        stage_plans = sorted(a.plan for a in theirs.get(service, []))
        data = is_data_service(service)
        if not stage_plans:
            found.append(
                _diff(
                    "add-on",
                    service,
                    ", ".join(prod_plans),
                    None,
                    Severity.HIGH,
                    f"staging has no {service}: requests that use it fail or take another path, so "
                    "results will not transfer.",
                )
            )
        elif not prod_plans:
            found.append(
                _diff(
                    "add-on",
                    service,
                    None,
                    ", ".join(stage_plans),
                    Severity.LOW,
                    f"staging has {service} and production does not; it may add work of its own.",
                )
            )
        elif prod_plans != stage_plans:
            severity = Severity.HIGH if data else Severity.MEDIUM
            pairs = zip(prod_plans, stage_plans, strict=False)
            effect = " ".join(_plan_effect(service, p, s) for p, s in pairs if p != s) or (
                f"production has {len(prod_plans)} {service} add-ons, staging {len(stage_plans)}."
            )
            found.append(
                _diff("add-on plan", service, ", ".join(prod_plans), ", ".join(stage_plans), severity, effect)
            )
    return found


def _config(prod: AppProfile, stage: AppProfile) -> list[Difference]:
    skip = prod.addon_config_vars() | stage.addon_config_vars() | {FORK_MARKER}
    mine, theirs = set(prod.config_var_names) - skip, set(stage.config_var_names) - skip
    found = []
    for name in sorted(mine - theirs):
        concurrency = is_concurrency_var(name)
        found.append(
            _diff(
                "config var",
                name,
                "set",
                None,
                Severity.HIGH if concurrency else Severity.MEDIUM,
                "a concurrency setting: staging runs with its default, so throughput per dyno will "
                "not transfer."
                if concurrency
                else "code that reads it (feature flags, endpoints, pool sizes) takes another path on "
                "staging.",
            )
        )
    for name in sorted(theirs - mine):
        found.append(
            _diff(
                "config var",
                name,
                None,
                "set",
                Severity.LOW,
                "set on staging only; check that it does not switch a code path production lacks.",
            )
        )
    if prod.value_digests is not None and stage.value_digests is not None:
        for name in sorted(mine & theirs):
            if prod.value_digests.get(name) != stage.value_digests.get(name):
                found.append(
                    _diff(
                        "config value",
                        name,
                        "value A",
                        "value B",
                        Severity.MEDIUM if is_concurrency_var(name) else Severity.LOW,
                        "the values differ (compared as keyed digests; neither is shown)"
                        + (
                            ": a concurrency setting, so throughput per dyno may not transfer."
                            if is_concurrency_var(name)
                            else "."
                        ),
                    )
                )
    return found


def compare(
    production: AppProfile,
    staging: AppProfile,
    *,
    tested_process_type: str | None = None,
    side_effects_ok: Collection[str] = (),
) -> ParityReport:
    """Every difference of `staging` from `production`, worst first, and staging's side effects.

    `tested_process_type`: the type `harness run` scales to the formation under test (its size
    difference is then only information)."""
    differences = [
        *_platform(production, staging),
        *_code(production, staging),
        *_process_types(production, staging, tested_process_type),
        *_addons(production, staging),
        *_config(production, staging),
    ]
    differences.sort(key=lambda d: (d.severity.rank, d.aspect, d.subject))
    effects = scan(
        staging.config_var_names,
        [(a.name, a.service) for a in staging.addons],
        live_key_names=staging.live_key_names,
        acknowledged=side_effects_ok,
    )
    return ParityReport(
        production=production.name,
        staging=staging.name,
        differences=tuple(differences),
        side_effects=tuple(effects),
        values_compared=production.value_digests is not None and staging.value_digests is not None,
    )
