"""The arrival-rate pacer: who takes a slot, what a late slot remembers, and which idle users close."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import gevent
import pytest

from harness.load.pacing import Pacer, PacingMode, users_for_rate


def test_without_a_rate_nobody_waits() -> None:
    pacer = Pacer()
    with gevent.Timeout(1):
        pacer.wait()
    assert pacer.released == 0


def test_the_most_recently_freed_user_takes_the_next_slot() -> None:
    pacer = Pacer()
    pacer.set_rate(0.001)
    gevent.sleep(0.01)  # the first slot is due at once and queues; the next is ~1000 s away
    order: list[int] = []
    users = [gevent.spawn(lambda n=n: (pacer.wait(), order.append(n))) for n in range(6)]
    gevent.sleep(0.01)  # 0 takes the queued slot; 1-5 wait, 5 on top
    pacer.set_rate(200.0)
    try:
        gevent.joinall(users, timeout=10, raise_error=True)
    finally:
        pacer.close()
    assert order == [0, 5, 4, 3, 2, 1] and pacer.released == 6


def test_a_slot_nobody_was_free_for_keeps_its_due_time_and_goes_to_the_next_user_back() -> None:
    pacer = Pacer()
    seen: list[tuple[float, float]] = []

    def slow_user() -> None:
        for _ in range(4):
            pacer.wait()
            slot = pacer.slot_of(gevent.getcurrent())
            assert slot is not None
            seen.append((slot.due, slot.ready))
            gevent.sleep(0.05)  # a 50 ms request: slots every 10 ms pile up behind it

    pacer.set_rate(100.0)
    try:
        gevent.spawn(slow_user).join(timeout=10)
    finally:
        pacer.close()
    late = [ready - due for due, ready in seen[1:]]
    assert len(seen) == 4 and all(lateness > 0.02 for lateness in late)
    assert late == sorted(late)  # the queue grows: each slot is later than the one before
    counters = pacer.counters()
    assert counters.queued >= 3 and counters.dropped >= 1  # close() drops what is still queued


def test_the_concurrency_ceiling_holds_requests_in_flight_and_queues_the_rest() -> None:
    pacer = Pacer()
    peaks: list[int] = []

    def user() -> None:
        while True:
            pacer.wait()
            peaks.append(pacer.in_flight)
            gevent.sleep(0.03)

    users = [gevent.spawn(user) for _ in range(6)]
    gevent.sleep(0.01)
    pacer.set_rate(400.0, max_concurrency=2)
    gevent.sleep(0.3)
    peak = pacer.take_peak()
    pacer.close()
    gevent.killall(users)
    assert peaks and max(peaks) == 2 and peak == 2
    assert pacer.counters().queued > 0


def test_spare_users_below_the_working_ones_are_closed_once() -> None:
    closed: list[Any] = []
    pacer = Pacer(idle_close_s=0.15, close=closed.append)
    users = [SimpleNamespace(name=f"user {n}") for n in range(4)]

    def loop(user: Any) -> None:
        while True:
            pacer.wait(user)
            gevent.sleep(0.002)

    greenlets = [gevent.spawn(loop, u) for u in users]
    gevent.sleep(0.01)
    pacer.set_rate(40.0)  # a 2 ms request every 25 ms: one user is enough, and stays on top
    gevent.sleep(0.8)
    pacer.close()
    gevent.killall(greenlets)
    assert len(closed) == len(set(map(id, closed))) == 3  # every spare once, the warm one never


def test_at_rate_zero_users_wait_without_slots_and_close_their_connections() -> None:
    closed: list[Any] = []
    pacer = Pacer(idle_close_s=0.1, close=closed.append)
    users = [SimpleNamespace(name=f"user {n}") for n in range(3)]
    sent: list[int] = []

    def loop(user: Any, n: int) -> None:
        while True:
            pacer.wait(user)
            sent.append(n)
            gevent.sleep(0.002)

    greenlets = [gevent.spawn(loop, u, n) for n, u in enumerate(users)]
    pacer.set_rate(200.0)
    gevent.sleep(0.2)
    pacer.set_rate(0.0)  # a drain: nothing due, nobody falls back to its own wait_time
    before = len(sent)
    gevent.sleep(0.5)
    during = len(sent) - before
    pacer.set_rate(100.0)
    gevent.sleep(0.2)
    pacer.close()
    gevent.killall(greenlets)
    assert during == 0 and len(sent) > before
    assert {id(u) for u in closed} == {id(u) for u in users}  # every idle user closed its connection


def test_a_rate_change_drops_the_queued_slots_and_counts_them() -> None:
    pacer = Pacer()
    pacer.set_rate(1000.0)  # nobody waits: every slot queues
    gevent.sleep(0.05)
    queued = pacer.counters().queued
    pacer.set_rate(10.0)
    counters = pacer.counters()
    pacer.close()
    assert queued > 10 and counters.dropped == queued and counters.taken == 0


def test_turning_pacing_off_releases_everyone_waiting() -> None:
    pacer = Pacer(mode=PacingMode.POISSON, seed=1)
    pacer.set_rate(0.001)  # the first slot is due at once, the next in ~1000 s
    users = [gevent.spawn(pacer.wait) for _ in range(3)]
    gevent.sleep(0.05)
    assert sum(u.ready() for u in users) <= 1
    pacer.set_rate(None)
    gevent.joinall(users, timeout=5, raise_error=True)
    assert all(u.ready() for u in users) and pacer.rate is None


def test_a_user_stopped_while_waiting_gives_up_its_place() -> None:
    pacer = Pacer()
    pacer.set_rate(0.001)
    gevent.sleep(0.01)  # the first slot goes unused
    stopped = gevent.spawn(pacer.wait)
    gevent.sleep(0.01)
    stopped.kill()
    assert len(pacer._free) == 0
    pacer.close()


@pytest.mark.parametrize(("rate", "cap", "users"), [(0.5, 100, 5), (40, 100, 44), (1000, 300, 300)])
def test_users_cover_a_second_of_latency_per_request_up_to_the_cap(rate: float, cap: int, users: int) -> None:
    assert users_for_rate(rate, cap=cap) == users
