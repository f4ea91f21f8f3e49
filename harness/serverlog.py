"""Heroku's log lines as facts: router requests, runtime-metric samples, dyno events.

A Heroku log line is ``<RFC 5424 time> <source>[<dyno>]: <message>``. Three
kinds carry the server-side view of a load test:

- the router's line per request, ``heroku[router]: at=info method=GET
  path="/" ... dyno=web.1 connect=1ms service=18ms status=200 bytes=13``
  (``code=H12`` and friends on errors; empty fields stay ``key=``);
- runtime-metric samples (``heroku labs:enable log-runtime-metrics``), about
  every 20 s per dyno: ``source=web.1 dyno=heroku.… sample#load_avg_1m=2.46``
  and ``sample#memory_rss=21.22MB … sample#memory_quota=512.00MB``;
- the dyno manager's lines, ``heroku[web.1]: State changed from up to
  crashed``, ``Process exited with status 137``, ``Error R14 (Memory quota
  exceeded)``.

`parse_line` turns one line into one of these records, or says it is another
line (app output, other platform chatter: `Other`) or an odd one (`Odd`: it
does not follow the grammar, or a router/metrics line lacks its figures). It
never raises: a stream must survive any line. Like measurements.py this
module is pure and imports nothing of harness; times are Unix epoch seconds
(`_ts`), durations milliseconds (`_ms`), memory megabytes (`_mb`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "ClientRequest",
    "DynoEvent",
    "EventKind",
    "MetricSample",
    "Odd",
    "Other",
    "ParsedLine",
    "RouterRequest",
    "parse_line",
    "record_from_json",
    "record_to_json",
]

_LINE = re.compile(r"^(\S+) ([A-Za-z0-9_.-]+)\[([^\]\s]+)\]: ?(.*)$")
_PAIR = re.compile(r'([A-Za-z_#][\w#.]*)=("(?:[^"\\]|\\.)*"|\S*)')
_MS = re.compile(r"^(\d+(?:\.\d+)?)ms$")
_MB = re.compile(r"^(\d+(?:\.\d+)?)MB$")
_STATE = re.compile(r"^State changed from (\w+) to (\w+)")
_R_ERROR = re.compile(r"^Error ([RL]\d\d)\b")
_EXIT = re.compile(r"^Process exited with status (-?\d+)")
_MEM_RUNNING = re.compile(r"^Process running mem=(\d+(?:\.\d+)?)M(?:B)?\((\d+(?:\.\d+)?)%\)")


@dataclass(frozen=True, slots=True, kw_only=True)
class RouterRequest:
    """One request as the router logged it (at its end); `code` is the H code of an error."""

    ts: float
    method: str
    path: str
    dyno: str | None = None  # e.g. web.1; None when no dyno was reached (H10, H11, H14 ...)
    connect_ms: float | None = None
    service_ms: float | None = None
    status: int | None = None
    bytes: int | None = None
    code: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSample:
    """One runtime-metrics line of one dyno: a load line or a memory line fills its own fields."""

    ts: float
    dyno: str  # the `source` (web.1), stable across restarts
    load_avg_1m: float | None = None
    memory_rss_mb: float | None = None
    memory_swap_mb: float | None = None
    memory_quota_mb: float | None = None
    memory_total_mb: float | None = None


class EventKind(enum.StrEnum):
    """What the dyno manager said about a dyno."""

    STATE = "state"  # State changed from X to Y (`state` is Y)
    CRASH = "crash"  # State changed to crashed
    EXIT = "exit"  # Process exited with status N
    R10 = "R10"  # boot timeout
    R12 = "R12"  # exit timeout
    R14 = "R14"  # memory quota exceeded: the dyno swaps
    R15 = "R15"  # memory quota vastly exceeded: the dyno is killed
    MEMORY = "memory"  # Process running mem=…M(…%) (comes with R14/R15)
    L10 = "L10"  # logplex dropped lines (output buffer overflow): the log is incomplete
    ERROR = "error"  # another `Error Rxx` / `Error Lxx` line


@dataclass(frozen=True, slots=True, kw_only=True)
class DynoEvent:
    """A dyno's state change, exit or R error; `detail` is the message, at most 200 characters."""

    ts: float
    dyno: str
    kind: EventKind
    state: str | None = None  # the new state (STATE, CRASH)
    previous: str | None = None  # the old state (STATE, CRASH)
    status: int | None = None  # the exit status (EXIT)
    memory_mb: float | None = None  # MEMORY
    memory_percent: float | None = None  # MEMORY
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Other:
    """A well-formed line that is none of the above (app output, other platform lines)."""

    source: str


@dataclass(frozen=True, slots=True)
class Odd:
    """A line harness could not read; `why` says what was wrong (no line content: it may hold secrets)."""

    why: str
    platform: bool  # from the platform (source heroku): safe to quote as an example


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """One request as the load generator saw it, with the X-Request-Id it sent."""

    ts: float  # when the response completed, epoch s
    request_id: str
    method: str
    name: str  # the Locust endpoint name
    response_time_ms: float
    status: int | None


ParsedLine = RouterRequest | MetricSample | DynoEvent | Other | Odd


def parse_line(line: str) -> ParsedLine:
    """One Heroku log line (without its newline) as a record; never raises."""
    match = _LINE.match(line.strip())
    if match is None:
        return Odd("not a Heroku log line (<time> <source>[<dyno>]: <message>)", platform=False)
    stamp, source, dyno, message = match.groups()
    ts = _timestamp(stamp)
    if ts is None:
        return Odd(f"unreadable timestamp {stamp[:40]!r}", platform=source == "heroku")
    if source != "heroku":
        return Other(source)
    if dyno == "router":
        return _router(ts, message)
    if "sample#" in message:
        return _sample(ts, dyno, message)
    return _dyno_event(ts, dyno, message)


def _timestamp(stamp: str) -> float | None:
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return when.timestamp()


def _pairs(message: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for key, value in _PAIR.findall(message):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"')
        pairs.setdefault(key, value)
    return pairs


def _ms(value: str | None) -> float | None:
    if not value:
        return None
    match = _MS.match(value)
    return float(match.group(1)) if match else None


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _router(ts: float, message: str) -> RouterRequest | Odd:
    pairs = _pairs(message)
    if "method" not in pairs or "path" not in pairs or "status" not in pairs:
        return Odd("router line without method, path or status", platform=True)
    for key in ("connect", "service"):
        if pairs.get(key) and _ms(pairs[key]) is None:
            return Odd(f"router line with an unreadable {key}= value", platform=True)
    if pairs["status"] and _int(pairs["status"]) is None:
        return Odd("router line with an unreadable status= value", platform=True)
    return RouterRequest(
        ts=ts,
        method=pairs["method"],
        path=pairs["path"],
        dyno=pairs.get("dyno") or None,
        connect_ms=_ms(pairs.get("connect")),
        service_ms=_ms(pairs.get("service")),
        status=_int(pairs.get("status")),
        bytes=_int(pairs.get("bytes")),
        code=pairs.get("code") or None,
        request_id=pairs.get("request_id") or None,
    )


def _mb(value: str | None) -> float | None:
    if not value:
        return None
    match = _MB.match(value)
    return float(match.group(1)) if match else None


def _sample(ts: float, dyno: str, message: str) -> MetricSample | Odd:
    pairs = _pairs(message)
    source = pairs.get("source") or dyno
    load = pairs.get("sample#load_avg_1m")
    sample = MetricSample(
        ts=ts,
        dyno=source,
        load_avg_1m=_float(load),
        memory_rss_mb=_mb(pairs.get("sample#memory_rss")),
        memory_swap_mb=_mb(pairs.get("sample#memory_swap")),
        memory_quota_mb=_mb(pairs.get("sample#memory_quota")),
        memory_total_mb=_mb(pairs.get("sample#memory_total")),
    )
    if sample.load_avg_1m is None and sample.memory_rss_mb is None:
        return Odd("runtime-metrics line without a readable load_avg_1m or memory_rss", platform=True)
    return sample


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _dyno_event(ts: float, dyno: str, message: str) -> DynoEvent | Other:
    detail = message[:200]
    if match := _STATE.match(message):
        previous, state = match.groups()
        kind = EventKind.CRASH if state == "crashed" else EventKind.STATE
        return DynoEvent(ts=ts, dyno=dyno, kind=kind, state=state, previous=previous, detail=detail)
    if match := _R_ERROR.match(message):
        code = match.group(1)
        kind = EventKind(code) if code in EventKind.__members__ else EventKind.ERROR
        return DynoEvent(ts=ts, dyno=dyno, kind=kind, detail=detail)
    if match := _EXIT.match(message):
        return DynoEvent(ts=ts, dyno=dyno, kind=EventKind.EXIT, status=int(match.group(1)), detail=detail)
    if match := _MEM_RUNNING.match(message):
        mb, percent = (float(g) for g in match.groups())
        return DynoEvent(
            ts=ts, dyno=dyno, kind=EventKind.MEMORY, memory_mb=mb, memory_percent=percent, detail=detail
        )
    return Other("heroku")


_KINDS: dict[str, type[RouterRequest] | type[MetricSample] | type[DynoEvent]] = {
    "router": RouterRequest,
    "metrics": MetricSample,
    "dyno": DynoEvent,
}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}


def record_to_json(record: RouterRequest | MetricSample | DynoEvent) -> dict[str, Any]:
    """A record as a JSON object with its `kind` ('router', 'metrics', 'dyno'; a dyno event's own kind
    is `event`); empty fields left out."""
    data = {k: v for k, v in asdict(record).items() if v is not None and v != ""}
    if isinstance(record, DynoEvent):
        data["event"] = str(data.pop("kind"))
    data["kind"] = _KIND_OF[type(record)]
    return data


def record_from_json(data: dict[str, Any]) -> RouterRequest | MetricSample | DynoEvent | None:
    """The record `record_to_json` wrote; None for an unknown kind or missing fields."""
    cls = _KINDS.get(str(data.get("kind")))
    if cls is None:
        return None
    fields = {k: v for k, v in data.items() if k != "kind"}
    try:
        if cls is DynoEvent:
            fields["kind"] = EventKind(fields.pop("event"))
        return cls(**fields)
    except (TypeError, ValueError, KeyError):
        return None
