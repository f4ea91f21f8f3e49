"""Heroku list pagination: `Range` in, `Content-Range`/`Next-Range` and 206 out (NOTES §1.5).

Header grammar: `<field> [start]..[end][; max=N][, order=asc|desc]`, where the
start may begin with `]` (exclusive, as in a `Next-Range` value). Bounds are in
iteration order: with `order=desc` the start is the *highest* value. Page size
defaults to 200 and may be 1..1000; anything else is 416
`requested_range_not_satisfiable`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from harness.emulator.api_error import ApiError

__all__ = ["DEFAULT_MAX", "MAX_MAX", "Page", "RangeSpec", "paginate", "parse_range"]

DEFAULT_MAX = 200
MAX_MAX = 1000
_HEADER = re.compile(
    r"^\s*(?P<field>[a-z_]+)\s*(?P<start>[^.;,\s]*)\.\.(?P<end>[^;,\s]*)\s*(?P<opts>[;,].*)?$"
)

T = TypeVar("T")
Key = int | str


def _bad(message: str) -> ApiError:
    return ApiError(416, "requested_range_not_satisfiable", message)


@dataclass(frozen=True, kw_only=True)
class RangeSpec:
    """A parsed `Range` header."""

    field: str
    start: str | None = None
    start_exclusive: bool = False
    end: str | None = None
    max: int = DEFAULT_MAX
    descending: bool = False

    def header(self, first: Key | None, last: Key | None) -> str:
        """Render a range covering first..last with this spec's options."""
        opts = f"; max={self.max}" + (", order=desc" if self.descending else "")
        return f"{self.field} {'' if first is None else first}..{'' if last is None else last}{opts}"


@dataclass(frozen=True, kw_only=True)
class Page(Generic[T]):
    """One page of a list and the headers that describe it."""

    items: list[T]
    content_range: str
    next_range: str | None

    @property
    def status(self) -> int:
        """206 when more items follow, else 200."""
        return 206 if self.next_range else 200


def parse_range(header: str | None, fields: Sequence[str]) -> RangeSpec:
    """Parse a Range header for a list sortable by `fields` (the first one is the default)."""
    if header is None or not header.strip():
        return RangeSpec(field=fields[0])
    match = _HEADER.match(header)
    if not match or match["field"] not in fields:
        raise _bad(
            f"Invalid Range header {header!r}: use `<field> [start]..[end]; max=N` with field one of "
            f"{', '.join(fields)}."
        )
    start = match["start"] or None
    exclusive = bool(start and start.startswith("]"))
    if start and exclusive:
        start = start[1:] or None
    page_max, descending = _options(match["opts"] or "", header)
    return RangeSpec(
        field=match["field"],
        start=start,
        start_exclusive=exclusive,
        end=match["end"] or None,
        max=page_max,
        descending=descending,
    )


def _options(raw: str, header: str) -> tuple[int, bool]:
    page_max, descending = DEFAULT_MAX, False
    for part in filter(None, (p.strip() for p in re.split(r"[;,]", raw))):
        key, _, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if key == "max" and value.isdigit() and 1 <= int(value) <= MAX_MAX:
            page_max = int(value)
        elif key == "order" and value in ("asc", "desc"):
            descending = value == "desc"
        else:
            raise _bad(
                f"Invalid Range option {part!r} in {header!r}: max must be 1..{MAX_MAX}, order asc|desc."
            )
    return page_max, descending


def paginate(items: Sequence[T], spec: RangeSpec, key: Callable[[T, str], Key]) -> Page[T]:
    """Sort by the spec's field, keep the bounds, cut one page; `key(item, field)` gives sort values."""
    ordered = sorted(items, key=lambda item: key(item, spec.field), reverse=spec.descending)
    sample = key(ordered[0], spec.field) if ordered else ""
    start = _coerce(spec.start, sample)
    end = _coerce(spec.end, sample)
    kept = [item for item in ordered if _within(key(item, spec.field), start, end, spec)]
    page = kept[: spec.max]
    first = key(page[0], spec.field) if page else None
    last = key(page[-1], spec.field) if page else None
    next_range = None
    if len(kept) > len(page) and last is not None:
        opts = f"; max={spec.max}" + (", order=desc" if spec.descending else "")
        next_range = f"{spec.field} ]{last}..{spec.end or ''}{opts}"
    return Page(items=page, content_range=spec.header(first, last), next_range=next_range)


def _coerce(bound: str | None, sample: Key) -> Key | None:
    if bound is None:
        return None
    if isinstance(sample, int):
        if not bound.lstrip("-").isdigit():
            raise _bad(f"Invalid Range bound {bound!r}: this field is numeric.")
        return int(bound)
    return bound


def _within(value: Key, start: Key | None, end: Key | None, spec: RangeSpec) -> bool:
    def before(a: Key, b: Key) -> bool:  # a comes before b in iteration order
        return a > b if spec.descending else a < b  # type: ignore[operator]

    if start is not None and (before(value, start) or (spec.start_exclusive and value == start)):
        return False
    return not (end is not None and before(end, value))
