"""What formations, requests and the test itself cost, in USD.

Heroku prorates dynos to the second and caps a dyno at its monthly price for a
month of 24×7 running; the CLI (and harness) compute the hourly price as
monthly / 720 h, so a month here is 720 hours. Prices come from the caller:
`GET /dyno-sizes` when the API gives them, else the dated built-in table, and
`Prices.source` says which, so reports can too. Pure arithmetic.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AUTOSCALING_NOTE",
    "HOURS_PER_MONTH",
    "FormationCost",
    "PriceSource",
    "Prices",
    "RunCost",
    "cost_per_million_requests",
    "formation_cost",
    "run_cost",
]

HOURS_PER_MONTH = 720.0  # Heroku's monthly cap is 720 dyno-hours' worth (the CLI's monthly/720)

AUTOSCALING_NOTE = (
    "Heroku's autoscaling (Performance, Private and Shield dynos only) adds at most one dyno a minute, "
    "so the headroom has to carry a rising peak for as many minutes as dynos it still has to add."
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PriceSource(enum.StrEnum):
    """Where dyno prices came from."""

    LIVE = "live"  # the platform's `GET /dyno-sizes`
    BUILTIN = "builtin"  # harness's dated list-price table
    MIXED = "mixed"  # live where the API priced a size, the table elsewhere


class Prices(_Frozen):
    """USD per dyno-hour by size name (matched case-insensitively), and where they came from."""

    hourly_usd: dict[str, float] = Field(default_factory=dict)
    source: PriceSource = PriceSource.BUILTIN
    as_of: str | None = None  # the built-in table's date, when it was used

    def hourly(self, size: str) -> float | None:
        """Price of one dyno of `size` for an hour, or None when unknown."""
        folded = {name.casefold(): price for name, price in self.hourly_usd.items()}
        return folded.get(size.casefold())

    def describe(self) -> str:
        """Where the prices come from, for a report's footnote."""
        if self.source is PriceSource.LIVE:
            return "Prices from the platform's dyno-size list (GET /dyno-sizes) at the time of the run."
        table = f"harness's built-in list prices (as of {self.as_of})" if self.as_of else "built-in prices"
        if self.source is PriceSource.MIXED:
            return f"Prices from GET /dyno-sizes where it gave them, else {table}."
        return f"Prices from {table}; the platform did not give prices."

    @classmethod
    def of(
        cls, hourly_usd: Mapping[str, float], *, live: Sequence[str] = (), as_of: str | None = None
    ) -> Prices:
        """A table in which the sizes named in `live` were priced by the platform."""
        live_set = {name.casefold() for name in live}
        known = {name.casefold() for name in hourly_usd}
        if live_set and known <= live_set:
            source = PriceSource.LIVE
        else:
            source = PriceSource.MIXED if live_set else PriceSource.BUILTIN
        return cls(
            hourly_usd=dict(hourly_usd), source=source, as_of=None if source is PriceSource.LIVE else as_of
        )


class FormationCost(_Frozen):
    """The price of running `dynos` × `size` (None when the size has no price)."""

    size: str
    dynos: int
    hourly_usd: float | None
    monthly_usd: float | None


def formation_cost(size: str, dynos: int, prices: Prices) -> FormationCost:
    """Hourly and monthly (720 h) cost of a formation."""
    price = prices.hourly(size)
    hourly = None if price is None else price * dynos
    return FormationCost(
        size=size,
        dynos=dynos,
        hourly_usd=hourly,
        monthly_usd=None if hourly is None else hourly * HOURS_PER_MONTH,
    )


def cost_per_million_requests(hourly_usd: float | None, rps: float) -> float | None:
    """USD per million requests served at `rps` by a formation costing `hourly_usd` (None if unknown)."""
    if hourly_usd is None or rps <= 0:
        return None
    return hourly_usd / (rps * 3600.0) * 1e6


class RunCost(_Frozen):
    """Dyno-hours of all formations under test, and their price (None when a size has no price)."""

    dyno_hours: float
    usd: float | None
    per_formation: list[tuple[str, int, float, float | None]]  # size, dynos, dyno-hours, USD

    def describe(self) -> str:
        """'3.2 dyno-hours, about $0.11'."""
        price = f", about ${self.usd:,.2f}" if self.usd is not None else " (price unknown)"
        return f"{self.dyno_hours:,.2f} dyno-hours{price}"


def run_cost(formations: Sequence[tuple[str, int, float]], prices: Prices) -> RunCost:
    """The cost of a test from (size, dynos, seconds at that formation) per formation tested."""
    rows: list[tuple[str, int, float, float | None]] = []
    for size, dynos, seconds in formations:
        hours = dynos * seconds / 3600.0
        price = prices.hourly(size)
        rows.append((size, dynos, hours, None if price is None else price * hours))
    costs = [row[3] for row in rows]
    usd = None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)
    return RunCost(dyno_hours=sum(row[2] for row in rows), usd=usd, per_formation=rows)
