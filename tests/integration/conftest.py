"""Shared integration fixtures: one emulator subprocess for the whole session; headless Chromium.

`emulator` is a started `EmulatorProcess` (the bundled demo app as
`harness-demo`, web=1:Standard-1X) with short timeouts so failures show up in
seconds. It is shared: a test that changes `harness-demo` (formation,
maintenance, config vars, settings, faults) must put it back in a `finally`,
or better, work on an app of its own (`forked_app` in
`test_emulator_api.py` shows how: `POST /apps`, then release the demo slug).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.emulator import EmulatorProcess
from tests.harness_process import HarnessProcess
from tests.integration.api_helpers import api_client, ok
from tests.integration.browser import chromium  # noqa: F401  (the fixture: headless Chromium per module)


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    """The session's emulator: API on an ephemeral loopback port, demo app `harness-demo`.

    Timeouts are short but generous enough for 2 shared cores (boots take ~0.3 s locally).
    """
    process = EmulatorProcess.start(
        boot_timeout_s=20.0,
        router_timeout_s=5.0,
        metrics_interval_s=1.0,
        shutdown_grace_s=2.0,
        crash_cooloff_s=1.0,
        router_boot_wait_s=5.0,
    )
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def harness_runs() -> Iterator[list[HarnessProcess]]:
    """Every harness process a test starts is closed (and its leftovers ended) afterwards."""
    started: list[HarnessProcess] = []
    try:
        yield started
    finally:
        for process in started:
            process.close()


@pytest.fixture
def outside_emulator() -> Iterator[EmulatorProcess]:
    """An emulator the test owns, so it outlives a killed harness (as Heroku would)."""
    process = EmulatorProcess.start(boot_timeout_s=20.0, router_timeout_s=5.0, shutdown_grace_s=2.0)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def own_app(emulator: EmulatorProcess) -> Iterator[dict[str, Any]]:
    """A new app of the session emulator running the demo slug (web=1); deleted afterwards, add-ons too."""
    with api_client(emulator, 120.0) as api:
        app = ok(api.post("/apps", json={}), 201)
        try:
            newest = api.get(
                "/apps/harness-demo/releases", headers={"Range": "version ..; max=1, order=desc"}
            )
            ok(api.post(f"/apps/{app['id']}/releases", json={"slug": newest.json()[0]["slug"]["id"]}), 201)
            yield ok(api.get(f"/apps/{app['id']}"))
        finally:
            api.delete(f"/apps/{app['id']}")
