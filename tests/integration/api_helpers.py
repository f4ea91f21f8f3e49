"""Helpers for tests of the emulator's Platform API: a client, schema-checked answers, polling.

Test modules import from here, never from each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest

from harness.emulator import EmulatorProcess
from harness.emulator.schema import assert_response

__all__ = ["ACCEPT", "WAIT_S", "api_client", "ok", "wait_for"]

ACCEPT = "application/vnd.heroku+json; version=3"
WAIT_S = 45.0

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float = WAIT_S) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after a generous timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The body of an answer with `status` (206 too for a list page) that matches its link's schema."""
    body = response.json()
    partial = status == 200 and isinstance(body, list) and response.status_code == 206
    assert response.status_code == status or partial, response.text
    assert_response(response.request.method, response.request.url.path, body)
    return body


def api_client(emulator: EmulatorProcess, timeout_s: float = 30.0) -> httpx.Client:
    """An httpx client for the emulator's Platform API (token and Accept header set)."""
    headers = {"Authorization": f"Bearer {emulator.token}", "Accept": ACCEPT}
    return httpx.Client(base_url=emulator.api_url, headers=headers, timeout=timeout_s)
