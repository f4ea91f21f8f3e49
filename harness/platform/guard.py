"""Safety guards: plain functions over plain values, called before anything is changed.

The rules (README "Platform safety"):
- *Targets only.* An app listed as protected (e.g. the production app the staging copy was forked
  from) is always refused, and so is any app that is not explicitly named as a target.
- *Ceilings.* More dynos per process type than `max_dynos_per_type`, or an estimated formation cost
  above `max_cost_per_hour_usd`, needs an explicit confirmation (`--yes`). Prices come from
  `GET /dyno-sizes` when it answers, else from `BUILTIN_PRICES` (dated).
- *Own URL only.* Load goes only to the host of the app's own `web_url` (or loopback, for the emulator).
- *Heroku's Load Testing Guidelines.* Against a real Heroku app the offered load is capped at
  10,000 req/s unless an approval reference is recorded and the formation is Performance tier.
- *Preflight.* Bad token, unknown app, maintenance, nothing deployed, no web process type or an
  unreachable URL fail before any scale-up.
"""

from __future__ import annotations

import ssl
from collections.abc import Collection, Iterable, Mapping
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict

from harness.errors import GuardError, PlatformError
from harness.platform.heroku import HerokuClient, is_loopback_host
from harness.platform.models import (
    App,
    DynoSize,
    Formation,
    Release,
    Slug,
    canonical_size,
)

__all__ = [
    "BUILTIN_PRICES",
    "BUILTIN_PRICES_AS_OF",
    "LOAD_TEST_GUIDELINES_SOURCE",
    "MAX_UNAPPROVED_RPS",
    "PreflightFacts",
    "check_app_allowed",
    "check_formation_limits",
    "check_load_target",
    "check_offered_rate",
    "estimate_hourly_cost",
    "is_performance_tier",
    "preflight",
    "price_table",
]

# Monthly USD list prices / 720 h, from heroku/cli v11.9.0 `ps/type.ts` COST_MONTHLY (NOTES §3.6).
BUILTIN_PRICES_AS_OF = "2026-08-04 (heroku/cli v11.9.0 COST_MONTHLY; Dev Center usage-and-billing Oct 2024)"
_MONTHLY_USD: Mapping[str, float] = {
    "Eco": 0.0,  # a $5 pool shared by all Eco dynos: nothing per dyno
    "Basic": 7,
    "Standard-1X": 25,
    "Standard-2X": 50,
    "Performance-M": 250,
    "Performance-L": 500,
    "Performance-L-RAM": 500,
    "Performance-XL": 750,
    "Performance-2XL": 1500,
    "Private-S": 225,
    "Private-M": 450,
    "Private-L": 900,
    "Private-L-RAM": 500,
    "Private-XL": 750,
    "Private-2XL": 1500,
    "Shield-S": 270,
    "Shield-M": 540,
    "Shield-L": 1080,
    "Shield-L-RAM": 600,
    "Shield-XL": 900,
    "Shield-2XL": 1800,
}
BUILTIN_PRICES: Mapping[str, float] = {name.casefold(): usd / 720 for name, usd in _MONTHLY_USD.items()}

MAX_UNAPPROVED_RPS = 10_000
LOAD_TEST_GUIDELINES_SOURCE = "Heroku Dev Center, load-testing-guidelines, updated Dec 2024"
_DEDICATED_PREFIXES = ("performance-", "private-", "shield-")


def check_app_allowed(app: str, *, targets: Collection[str], protected: Collection[str]) -> None:
    """Refuse a protected app, and any app not explicitly named as a target."""
    if app in protected:
        raise GuardError(
            f"'{app}' is a protected app: harness never scales or load-tests it. Point target.app at a "
            "staging copy (e.g. forked from it) instead.",
            field="target.app",
        )
    if app not in targets:
        named = ", ".join(sorted(targets)) or "none"
        raise GuardError(
            f"'{app}' is not a named target (targets: {named}). harness only touches apps named explicitly "
            "as the target (target.app in scenarios.yaml, or --app).",
            field="target.app",
        )


def price_table(sizes: Iterable[DynoSize] | None = None) -> dict[str, float]:
    """USD per dyno-hour by folded size name: live `GET /dyno-sizes` prices over the built-in table."""
    table = dict(BUILTIN_PRICES)
    for size in sizes or ():
        if size.hourly_usd is not None:
            table[size.name.casefold()] = size.hourly_usd
    return table


def estimate_hourly_cost(formation: Formation, prices: Mapping[str, float]) -> float:
    """Estimated USD per hour of a formation; an unpriced size is a GuardError (cannot bound the cost)."""
    total = 0.0
    for process in formation:
        price = prices.get(process.size.casefold())
        if price is None:
            raise GuardError(
                f"no price known for dyno size '{process.size}' ({process.type}); use a size listed by "
                "`heroku ps:type` or check the spelling (e.g. standard-2x, performance-m).",
                field="formation",
            )
        total += price * process.quantity
    return total


def check_formation_limits(
    formation: Formation,
    *,
    max_dynos_per_type: int,
    max_cost_per_hour_usd: float,
    prices: Mapping[str, float],
    confirmed: bool = False,
) -> float:
    """Refuse a formation over the dyno or cost ceiling unless `confirmed`; returns the USD/hour estimate."""
    cost = estimate_hourly_cost(formation, prices)
    if confirmed:
        return cost
    over = [p for p in formation if p.quantity > max_dynos_per_type]
    if over:
        raise GuardError(
            f"{', '.join(p.describe() for p in over)} is more than {max_dynos_per_type} dynos per process "
            "type (guards.max_dynos_per_type). Confirm with --yes, or raise the ceiling.",
            field="guards.max_dynos_per_type",
        )
    if cost > max_cost_per_hour_usd:
        raise GuardError(
            f"{formation.describe()} would cost about ${cost:.2f}/hour, over the ceiling of "
            f"${max_cost_per_hour_usd:.2f}/hour (guards.max_cost_per_hour_usd; prices as of "
            f"{BUILTIN_PRICES_AS_OF} unless the API lists them). Confirm with --yes, or raise the ceiling.",
            field="guards.max_cost_per_hour_usd",
        )
    return cost


def check_load_target(url: str, *, web_url: str | None, emulator: bool) -> None:
    """Load only to the app's own web_url host, or (emulator only) to loopback."""
    host = (urlsplit(url).hostname or "").lower()
    own = (urlsplit(web_url).hostname or "").lower() if web_url else ""
    if host and host == own:
        return
    if emulator and is_loopback_host(host):
        return
    allowed = own or "(the app has no web_url)"
    raise GuardError(
        f"load target {url} is not the app's own URL (host {allowed}"
        f"{' or loopback' if emulator else ''}). harness only sends load to the app under test.",
        field="target",
    )


def is_performance_tier(formation: Formation, process_type: str = "web") -> bool:
    """Whether the process type runs on dedicated (Performance, Private or Shield) dynos."""
    process = formation.get(process_type)
    return process is not None and canonical_size(process.size).casefold().startswith(_DEDICATED_PREFIXES)


def check_offered_rate(
    rps: float, *, emulator: bool, approval_ref: str | None, formation: Formation, process_type: str = "web"
) -> None:
    """Heroku's guideline: > 10,000 req/s needs approval and Performance-tier dynos (emulator exempt)."""
    if emulator or rps <= MAX_UNAPPROVED_RPS:
        return
    if approval_ref and is_performance_tier(formation, process_type):
        return
    missing = "an approval reference (target.approval_ref)" if not approval_ref else "Performance-tier dynos"
    raise GuardError(
        f"offered load of {rps:,.0f} req/s is above the {MAX_UNAPPROVED_RPS:,} req/s per app that needs no "
        f"approval ({LOAD_TEST_GUIDELINES_SOURCE}); above it Heroku requires approval requested two business "
        f"days ahead and Performance-tier dynos. Missing: {missing}.",
        field="expected_peak",
    )


class PreflightFacts(BaseModel):
    """What preflight learned: the app, what is deployed, the current formation and dyno prices."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_email: str
    app: App
    release: Release
    slug: Slug | None
    formation: Formation
    prices: dict[str, float]  # USD per dyno-hour, folded size name
    priced_live: tuple[str, ...] = ()  # folded size names `GET /dyno-sizes` priced (the rest: built-in)


def _probe(
    url: str, timeout_s: float, transport: httpx.BaseTransport | None, verify: ssl.SSLContext | bool
) -> None:
    try:
        with httpx.Client(
            timeout=timeout_s, transport=transport, follow_redirects=False, verify=verify
        ) as http:
            http.get(url)
    except httpx.HTTPError as exc:
        raise GuardError(
            f"the target URL {url} is unreachable ({type(exc).__name__}); check the app's web_url and that "
            "its router answers before scaling anything.",
            field="target",
        ) from None


def preflight(
    client: HerokuClient,
    app: str,
    *,
    local: bool,
    process_type: str = "web",
    target_url: str | None = None,
    probe_timeout_s: float = 10.0,
    probe_transport: httpx.BaseTransport | None = None,
    verify: ssl.SSLContext | bool = True,
) -> PreflightFacts:
    """Fail fast, before any scale-up: bad token, unknown app, maintenance, nothing deployed, no
    `process_type`, unreachable URL (any HTTP answer counts as reachable). `local`: the platform is
    on this machine (`target.PlatformTarget.local`), so a loopback target URL is the app's own;
    `verify`: how the probe checks HTTPS (`PlatformTarget.tls_verify`)."""
    account = client.account()  # AuthError on a bad token
    info = client.app(app)  # NotFoundError on an unknown app
    if info.maintenance:
        raise GuardError(
            f"{app} is in maintenance mode (the router answers H80). Turn it off with "
            f"`heroku maintenance:off -a {app}` before a capacity test.",
            field="target.app",
        )
    release = client.current_release(app)
    if release is None or release.slug_id is None:
        raise GuardError(
            f"{app} has nothing deployed (no release with a slug). Deploy the app first.", field="target.app"
        )
    slug = client.slug(app, release.slug_id)
    formation = Formation.from_entries(client.formation(app))
    if process_type not in slug.process_types and formation.get(process_type) is None:
        raise GuardError(
            f"{app} has no `{process_type}` process type (Procfile types: "
            f"{', '.join(sorted(slug.process_types)) or 'none'}). Only web dynos receive HTTP traffic.",
            field="target.process_type",
        )
    url = target_url or info.web_url
    if url:
        check_load_target(url, web_url=info.web_url, emulator=local)
        _probe(url, probe_timeout_s, probe_transport, verify)
    try:
        sizes = client.dyno_sizes()
    except PlatformError:
        sizes = []  # prices fall back to the dated built-in table
    return PreflightFacts(
        account_email=account.email,
        app=info,
        release=release,
        slug=slug,
        formation=formation,
        prices=price_table(sizes),
        priced_live=tuple(s.name.casefold() for s in sizes if s.hourly_usd is not None),
    )
