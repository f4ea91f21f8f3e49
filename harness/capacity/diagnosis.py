"""Name the bottleneck the server-side data supports, with how strong the evidence is (pure, no I/O).

The diagnosis looks at one step: the first that broke its SLOs, else the
most loaded one, and weighs four causes by the signals each leaves:

- router queueing: H11/H12 from the router, and requests spending most of
  their time outside the dyno (client time ≫ router service time);
- dyno CPU: load_avg_1m over what the dyno size carries (1.0 for shared
  sizes, help.heroku.com/88G3XLA6), with service time rising against the
  least loaded step;
- memory: R14/R15, swap, memory near the quota;
- errors in the app: 5xx the dynos answer themselves, crashes.

Each signal scores 1 (present) or 2 (clear); the best cause's score gives
the evidence (3+ strong, 2 moderate, 1 weak), lowered one level when the data
is thin (few router lines in the step, a stream gap, no runtime metrics for a
CPU or memory verdict). Nothing scoring means no bottleneck showed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.capacity.server_steps import (
    acceptable_load,
    code_counts,
    dyno_totals,
    load_points,
    memory_points,
    server_events,
    server_steps,
)
from harness.serverlog import ClientRequest, DynoEvent, EventKind, MetricSample, RouterRequest
from harness.serverview import (
    Bottleneck,
    Diagnosis,
    Evidence,
    QueueBasis,
    ServerView,
    StepServer,
    StepSpan,
    StreamSummary,
)

__all__ = ["METRICS_HINT", "build_view", "diagnose"]

METRICS_HINT = (
    "No runtime metrics (memory, load) arrived from the dynos. Enable them with "
    "`heroku labs:enable log-runtime-metrics -a APP` and restart the dynos (`heroku ps:restart -a APP`); "
    "the next run shows memory and load per dyno."
)
# Fewer router lines than this in the diagnosed step: the evidence is thin.
MIN_LINES = 50
_QUEUE_FLOOR_MS = 20.0  # outside-dyno time below this is network noise, never queueing


def build_view(
    steps: Sequence[StepSpan],
    router: Sequence[RouterRequest],
    metrics: Sequence[MetricSample],
    events: Sequence[DynoEvent],
    client: Sequence[ClientRequest],
    *,
    stream: StreamSummary | None = None,
    dyno_size: str | None = None,
) -> ServerView:
    """The whole server-side view of a run, its diagnosis included."""
    by_id = {c.request_id: c for c in client}
    per_step = server_steps(steps, router, metrics, events, by_id)
    present = any(m.load_avg_1m is not None or m.memory_rss_mb is not None for m in metrics)
    matched_ids = {r.request_id for r in router if r.request_id and r.request_id in by_id}
    view = ServerView(
        steps=per_step,
        codes=code_counts(router, by_id),
        dynos=dyno_totals(router, metrics, events),
        memory=memory_points(metrics),
        load=load_points(metrics),
        events=server_events(events),
        router_requests=len(router),
        matched=len(matched_ids),
        metrics_present=present,
        metrics_hint=None if present else METRICS_HINT,
        load_limit=acceptable_load(dyno_size),
        dyno_size=dyno_size,
        stream=stream or StreamSummary(),
        diagnosis=Diagnosis(bottleneck=Bottleneck.NONE, evidence=Evidence.WEAK, text=""),
    )
    return view.model_copy(update={"diagnosis": diagnose(view, events)})


@dataclass
class _Case:
    """One cause's signals: (score, sentence) each."""

    cause: Bottleneck
    signals: list[tuple[int, str]] = field(default_factory=list)

    @property
    def score(self) -> int:
        return sum(score for score, _ in self.signals)

    def add(self, score: int, reason: str) -> None:
        if score > 0:
            self.signals.append((score, reason))


def diagnose(view: ServerView, events: Sequence[DynoEvent] = ()) -> Diagnosis:
    """The bottleneck the view's data supports at its focus step, in words."""
    focus = _focus(view.steps)
    if focus is None:
        return Diagnosis(
            bottleneck=Bottleneck.NONE,
            evidence=Evidence.WEAK,
            text="No router lines fell inside a measured step, so the server side cannot say where time "
            "went." + _completeness(view, None),
        )
    baseline = min((s for s in view.steps if s.service_p50_ms is not None), key=_load_key, default=None)
    cases = [
        _queueing(focus, view),
        _cpu(focus, baseline, view.load_limit or 1.0, view.dyno_size),
        _dyno_wait(focus, baseline, view.load_limit or 1.0),
        _memory(focus, view, events),
        _app_errors(focus, view),
    ]
    best = max(cases, key=lambda c: c.score)
    where = _where(focus)
    if best.score == 0:
        text = (
            f"No server-side bottleneck showed {where}: no router errors, the dynos answered in "
            f"{_ms(focus.service_p50_ms)} (median) and requests spent {_ms(focus.queue_p50_ms)} outside them."
        )
        return Diagnosis(
            bottleneck=Bottleneck.NONE,
            evidence=Evidence.WEAK,
            text=text + _completeness(view, focus),
            step=focus.step,
            scenario=focus.scenario,
        )
    evidence, caveats = _evidence(best, focus, view)
    reasons = [reason for _, reason in sorted(best.signals, key=lambda s: -s[0])]
    runner_up = [c for c in cases if c is not best and c.score >= 2]
    text = f"{_NAMES[best.cause]} is the bottleneck the data supports {where} ({evidence} evidence): "
    text += "; ".join(reasons) + "."
    if runner_up:
        text += (
            " Also seen: "
            + "; ".join(f"{_NAMES[c.cause].lower()} ({c.signals[0][1]})" for c in runner_up)
            + "."
        )
    if caveats:
        text += " " + " ".join(caveats)
    return Diagnosis(
        bottleneck=best.cause,
        evidence=evidence,
        text=text,
        reasons=reasons,
        step=focus.step,
        scenario=focus.scenario,
    )


_NAMES = {
    Bottleneck.ROUTER_QUEUEING: "Router queueing",
    Bottleneck.DYNO_CPU: "Dyno CPU",
    Bottleneck.DYNO_WAIT: "Waiting inside the dyno (workers, a lock or a downstream call, not CPU)",
    Bottleneck.MEMORY: "Memory",
    Bottleneck.APP_ERRORS: "Errors in the app",
}


def _load_key(step: StepServer) -> tuple[float, int]:
    return (step.level if step.level is not None else float(step.router_requests), step.step)


def _focus(steps: Sequence[StepServer]) -> StepServer | None:
    """The first broken step with router data, else the most loaded one."""
    with_data = [s for s in steps if s.router_requests > 0]
    broken = [s for s in with_data if s.ok is False]
    if broken:
        return min(broken, key=_load_key)
    return max(with_data, key=_load_key, default=None)


def _queueing(step: StepServer, view: ServerView) -> _Case:
    """H11, and requests waiting outside the dyno; H12 counts here only when requests did wait."""
    case = _Case(Bottleneck.ROUTER_QUEUEING)
    outside, client = step.queue_p50_ms, step.client_p50_ms
    waited = 0.0
    if outside is not None and client and outside >= _QUEUE_FLOOR_MS:
        waited = outside / client
        how = (
            " (from the medians: no request ids matched)"
            if step.queue_basis is QueueBasis.PERCENTILES
            else ""
        )
        sentence = (
            f"requests spent a median {_ms(outside)} outside the dyno against "
            f"{_ms(step.service_p50_ms)} of service (client median {_ms(client)}){how}"
        )
        case.add(2 if waited >= 0.5 else 1 if waited >= 0.25 else 0, sentence)
    codes = ("H11", "H12") if waited >= 0.25 else ("H11",)
    backlog = sum(step.codes.get(code, 0) for code in codes)
    if backlog:
        share = backlog / max(1, step.router_requests)
        named = ", ".join(f"{step.codes[c]} {c}{_on(c, view)}" for c in codes if step.codes.get(c))
        case.add(2 if share >= 0.01 else 1, f"the router answered {named} ({share:.1%} of its requests)")
    return case


def _on(code: str, view: ServerView) -> str:
    """', all on GET /search' (or 'mostly') when one endpoint had most of a code's errors over the run."""
    mine = [c for c in view.codes if c.code == code]
    total = sum(c.count for c in mine)
    if not mine or mine[0].count < 0.5 * total:
        return ""
    return f", {'all' if mine[0].count == total else 'mostly'} on {mine[0].endpoint}"


def _cpu(step: StepServer, baseline: StepServer | None, limit: float, size: str | None) -> _Case:
    case = _Case(Bottleneck.DYNO_CPU)
    if step.load_max:
        dyno, load = max(step.load_max.items(), key=lambda kv: kv[1])
        score = 2 if load >= 1.5 * limit else 1 if load >= limit else 0
        carries = f"a {size} carries" if size else "a shared dyno carries"
        case.add(score, f"load average reached {load:.2f} on {dyno}, over the {limit:.1f} {carries}")
    before = baseline.service_p50_ms if baseline is not None and baseline is not step else None
    now = step.service_p50_ms
    if case.signals and before and now and now >= 1.5 * before:
        case.add(1, f"service time rose from {_ms(before)} to {_ms(now)}")
    return case


def _dyno_wait(step: StepServer, baseline: StepServer | None, limit: float) -> _Case:
    """Service time rising inside the dyno while its CPU is not busy: requests queue for a worker,
    a lock or a downstream call (gunicorn's sync workers, a small DB pool) — more CPU would not help."""
    case = _Case(Bottleneck.DYNO_WAIT)
    before = baseline.service_p50_ms if baseline is not None and baseline is not step else None
    now = step.service_p50_ms
    if not (before and now and now >= 1.5 * before):
        return case
    score = 2 if now >= 3 * before else 1
    load = max(step.load_max.values(), default=None)
    if load is not None and load >= limit:
        return case  # the CPU case explains it
    idle = f", while the load average stayed at {load:.2f} (under {limit:.1f})" if load is not None else ""
    case.add(score, f"service time inside the dyno rose from {_ms(before)} to {_ms(now)}{idle}")
    return case


def _memory(step: StepServer, view: ServerView, events: Sequence[DynoEvent]) -> _Case:
    case = _Case(Bottleneck.MEMORY)
    upto = [e for e in events if e.ts <= step.end_ts]
    r14 = sum(1 for e in upto if e.kind is EventKind.R14)
    r15 = sum(1 for e in upto if e.kind is EventKind.R15)
    if r14 or r15:
        named = ", ".join(f"{n} {code}" for n, code in ((r14, "R14"), (r15, "R15")) if n)
        case.add(2, f"the dynos logged {named} (memory quota exceeded)")
    if step.swap_max_mb:
        case.add(1, f"dynos swapped up to {step.swap_max_mb:.0f} MB")
    quota = max((d.quota_mb for d in view.dynos if d.quota_mb), default=None)
    peak = max(step.memory_max_mb.values(), default=None)
    if quota and peak and peak >= 0.9 * quota:
        case.add(1, f"memory reached {peak:.0f} MB of a {quota:.0f} MB quota")
    return case


def _app_errors(step: StepServer, view: ServerView) -> _Case:
    """5xx from the dynos, crashes, and H12 on requests that did not wait: the app was too slow."""
    case = _Case(Bottleneck.APP_ERRORS)
    if step.app_5xx:
        share = step.app_5xx / max(1, step.router_requests)
        case.add(2 if share >= 0.01 else 1, f"the dynos answered {step.app_5xx} 5xx themselves ({share:.1%})")
    waited = (step.queue_p50_ms or 0.0) / step.client_p50_ms if step.client_p50_ms else 0.0
    timeouts = step.codes.get("H12", 0)
    if timeouts and waited < 0.25:
        share = timeouts / max(1, step.router_requests)
        case.add(
            2 if share >= 0.01 else 1,
            f"the router timed out {timeouts} requests (H12{_on('H12', view)}): the app did not answer them "
            "within the router's timeout",
        )
    broken = {code: step.codes[code] for code in ("H10", "H13", "H18") if step.codes.get(code)}
    parts = [f"{step.crashes} dyno crash{'es' if step.crashes > 1 else ''}"] if step.crashes else []
    parts += [f"{n} {code}" for code, n in broken.items()]
    if parts:
        case.add(1, " and ".join(parts) + " (a dyno crashed or cut the connection)")
    return case


def _evidence(best: _Case, step: StepServer, view: ServerView) -> tuple[Evidence, list[str]]:
    level = 3 if best.score >= 3 else best.score
    caveats = []
    if step.router_requests < MIN_LINES:
        caveats.append(f"Only {step.router_requests} router lines fell in that step.")
    if view.stream.reconnects or view.stream.dropped or view.stream.l10:
        caveats.append("The log stream was incomplete (see below).")
    if (
        best.cause in (Bottleneck.DYNO_CPU, Bottleneck.DYNO_WAIT, Bottleneck.MEMORY)
        and not view.metrics_present
    ):
        caveats.append("No runtime metrics arrived, so this rests on the router alone.")
    if caveats:
        level -= 1
    strength = {3: Evidence.STRONG, 2: Evidence.MODERATE}.get(level, Evidence.WEAK)
    if strength is Evidence.WEAK:
        caveats.append("The evidence is weak: read it as a lead, not a finding.")
    return strength, caveats


def _completeness(view: ServerView, step: StepServer | None) -> str:
    notes = []
    if not view.metrics_present:
        notes.append("No runtime metrics arrived, so CPU and memory could not be judged.")
    if step is not None and step.router_requests < MIN_LINES:
        notes.append(f"Only {step.router_requests} router lines fell in that step.")
    return (" " + " ".join(notes)) if notes else ""


def _where(step: StepServer) -> str:
    label = step.label or f"step {step.step}"
    level = f", {step.level:g} {step.level_unit}".rstrip() if step.level is not None else ""
    return f"at {step.scenario} {label}{level}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"
