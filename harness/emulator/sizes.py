"""Heroku's dyno sizes, once: what the API lists (price, memory, compute) and what a dyno process gets.

What a dyno size means locally
------------------------------
A dyno is an ordinary child process; the emulator enforces no CPU or memory
limit. The size reaches the process the way it does on Heroku: ``DYNO_SIZE``
(capitalised name) and ``WEB_CONCURRENCY``, set the way Heroku's Python
buildpack sets it at dyno boot since 2024 (lowest of ``2 * cores + 1`` and
``memory_MB / 256``), and runtime-metrics lines report the size's memory quota.
A config var ``WEB_CONCURRENCY`` overrides the default, as on Heroku.

==================  ======  =====  ===============
size                memory  cores  WEB_CONCURRENCY
==================  ======  =====  ===============
Eco, Basic          512 MB  (1)    2
Standard-1X         512 MB  (1)    2
Standard-2X         1 GB    (2)    4
Performance-M       2.5 GB  2      5
Performance-L       14 GB   8      17
Performance-L-RAM   30 GB   4      9
Performance-XL      62 GB   8      17
Performance-2XL     126 GB  16     33
Private-S, Shield-S 1 GB    2      4
Private-*, Shield-* as the Performance size of that suffix
==================  ======  =====  ===============

Names and monthly prices are Heroku's (CLI `COST_MONTHLY`, Dev Center
dyno-types, NOTES §3.6); `compute` stands in for the core count.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from harness.emulator.api_error import invalid

__all__ = ["DEFAULT_SIZE", "DYNO_SIZES", "DynoSize", "canonical_size", "find_dyno_size"]

SIZE_NAMESPACE = uuid.UUID("6b1f2d1e-2f51-4c8e-9d0f-1c2b3a4d5e6f")
DEFAULT_SIZE = "Standard-1X"


@dataclass(frozen=True, kw_only=True)
class DynoSize:
    """One dyno size. `cost_cents` is per month (NOTES §3.6); memory in GB; compute in vCPUs.

    Names and prices are Heroku's (CLI `COST_MONTHLY`, Dev Center dyno-types).
    `compute` and `precise_dyno_units` (monthly cost relative to Standard-1X) are
    emulator approximations: Heroku publishes no table of them.
    """

    name: str
    memory_gb: float
    compute: int
    cost_cents: int
    dedicated: bool = False
    private_space_only: bool = False
    max_per_type: int = 100

    @property
    def id(self) -> str:
        """A uuid5 of the name: stable across runs so clients may cache it."""
        return str(uuid.uuid5(SIZE_NAMESPACE, self.name))

    @property
    def precise_dyno_units(self) -> float:
        """Monthly cost relative to Standard-1X (an emulator approximation)."""
        return round(self.cost_cents / 2500, 2)

    @property
    def memory_mb(self) -> float:
        """The memory quota runtime-metrics lines report (MB)."""
        return self.memory_gb * 1024

    @property
    def web_concurrency(self) -> int:
        """The buildpack's WEB_CONCURRENCY default: lowest of `2 * cores + 1` and `memory_MB / 256`."""
        return max(1, min(2 * self.compute + 1, int(self.memory_mb // 256)))


def _private(prefix: str, cents: Sequence[int]) -> list[DynoSize]:
    specs = [
        ("S", 1.0, 2),
        ("M", 2.5, 2),
        ("L", 14.0, 8),
        ("L-RAM", 30.0, 4),
        ("XL", 62.0, 8),
        ("2XL", 126.0, 16),
    ]
    return [
        DynoSize(
            name=f"{prefix}-{suffix}",
            memory_gb=mem,
            compute=cpu,
            cost_cents=cost,
            dedicated=True,
            private_space_only=True,
        )
        for (suffix, mem, cpu), cost in zip(specs, cents, strict=True)
    ]


# Eco's $5 buys a 1000 dyno-hour pool shared by every Eco dyno, so one Eco dyno costs 0 (as the CLI shows).
DYNO_SIZES: tuple[DynoSize, ...] = (
    DynoSize(name="Eco", memory_gb=0.5, compute=1, cost_cents=0, max_per_type=1),
    DynoSize(name="Basic", memory_gb=0.5, compute=1, cost_cents=700, max_per_type=1),
    DynoSize(name="Standard-1X", memory_gb=0.5, compute=1, cost_cents=2500),
    DynoSize(name="Standard-2X", memory_gb=1.0, compute=2, cost_cents=5000),
    DynoSize(name="Performance-M", memory_gb=2.5, compute=2, cost_cents=25000, dedicated=True),
    DynoSize(name="Performance-L", memory_gb=14.0, compute=8, cost_cents=50000, dedicated=True),
    DynoSize(name="Performance-L-RAM", memory_gb=30.0, compute=4, cost_cents=50000, dedicated=True),
    DynoSize(name="Performance-XL", memory_gb=62.0, compute=8, cost_cents=75000, dedicated=True),
    DynoSize(name="Performance-2XL", memory_gb=126.0, compute=16, cost_cents=150000, dedicated=True),
    *_private("Private", [22500, 45000, 90000, 50000, 75000, 150000]),
    *_private("Shield", [27000, 54000, 108000, 60000, 90000, 180000]),
)


def find_dyno_size(identity: str) -> DynoSize:
    """A size by id or case-insensitive name; 422 `invalid_params` listing the sizes otherwise."""
    wanted = identity.strip().lower()
    for size in DYNO_SIZES:
        if wanted in (size.name.lower(), size.id):
            return size
    names = [s.name for s in DYNO_SIZES if not s.private_space_only]
    listing = ", ".join(names[:-1]) + " and " + names[-1]
    raise invalid(f"No such size as {identity}. Available dyno sizes are {listing}.")


def canonical_size(name: str) -> DynoSize:
    """The size named `name` in any case (`standard-2x` -> Standard-2X); ValueError for unknown names.

    For the runtime, which is driven by already validated formations; the API uses `find_dyno_size`.
    """
    wanted = name.strip().lower()
    for size in DYNO_SIZES:
        if size.name.lower() == wanted:
            return size
    known = ", ".join(size.name for size in DYNO_SIZES)
    raise ValueError(f"No such size as {name}. Available dyno sizes are {known}.")
