"""The arrival-rate pacer: who gets released, and when nobody is left waiting."""

from __future__ import annotations

import gevent
import pytest

from harness.load.pacing import Pacer, PacingMode, users_for_rate


def test_without_a_rate_nobody_waits() -> None:
    pacer = Pacer()
    with gevent.Timeout(1):
        pacer.wait()
    assert pacer.released == 0


def test_waiting_users_are_released_in_arrival_order() -> None:
    pacer = Pacer()
    pacer.set_rate(200.0)
    order: list[int] = []
    users = [gevent.spawn(lambda n=n: (pacer.wait(), order.append(n))) for n in range(5)]
    try:
        gevent.joinall(users, timeout=10, raise_error=True)
    finally:
        pacer.close()
    assert order == [0, 1, 2, 3, 4] and pacer.released >= 5


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
    assert len(pacer._waiters) == 0
    pacer.close()


@pytest.mark.parametrize(("rate", "cap", "users"), [(0.5, 100, 5), (40, 100, 44), (1000, 300, 300)])
def test_users_cover_a_second_of_latency_per_request_up_to_the_cap(rate: float, cap: int, users: int) -> None:
    assert users_for_rate(rate, cap=cap) == users
