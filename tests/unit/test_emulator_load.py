"""The emulator's per-dyno load average: the kernel's damped averages over the dyno's own CPU time."""

from __future__ import annotations

import math

import pytest

from harness.emulator.dynos import LoadAverage


def test_a_busy_core_approaches_one_like_the_kernels_average() -> None:
    load = LoadAverage()
    started = 1000.0
    for n in range(1, 4):  # three 20 s samples of one fully busy core
        one, five, fifteen = load.update(cpu_s=20.0 * n, now=started + 20.0 * n, started=started)
    assert one == pytest.approx(1 - math.exp(-1))
    assert five == pytest.approx(1 - math.exp(-60 / 300))
    assert fifteen == pytest.approx(1 - math.exp(-60 / 900))


def test_idle_decays_and_time_standing_still_changes_nothing() -> None:
    load = LoadAverage()
    load.update(cpu_s=60.0, now=60.0, started=0.0)
    busy = load.values[0]
    assert load.update(cpu_s=60.0, now=60.0, started=0.0)[0] == busy
    assert load.update(cpu_s=60.0, now=120.0, started=0.0)[0] == pytest.approx(busy * math.exp(-1))
    assert (
        load.update(cpu_s=30.0, now=180.0, started=0.0)[0] >= 0.0
    )  # a restarted tree's CPU never goes negative
