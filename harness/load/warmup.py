"""The first requests through the router after a scale-up, until the app answers.

Dynos can be up before their app is warm (imports, connection pools), so
`harness run` sends a few GETs to the app's URL before the first scenario:
the app must answer below HTTP 500 a few times, within `timeout_s`, or the
run stops with a `LoadError` that says where to look. Bounded in count and
time, and stops at once when a stop is requested (Ctrl-C).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable

import httpx

from harness.errors import LoadError

__all__ = ["WARMUP_ANSWERS", "WARMUP_TIMEOUT_S", "warm_up"]

WARMUP_TIMEOUT_S = 30.0
WARMUP_ANSWERS = 5  # answers below 500 that count as warm
_RETRY_S = 0.5


def _never() -> bool:
    return False


def warm_up(
    url: str,
    *,
    stop_requested: Callable[[], bool] = _never,
    timeout_s: float = WARMUP_TIMEOUT_S,
    verify: ssl.SSLContext | bool = True,
) -> int:
    """GET `url` until it answers below 500 `WARMUP_ANSWERS` times; returns how many answers came.
    `verify`: how HTTPS is checked (the platform's `tls_verify()`: never switched off)."""
    deadline = time.monotonic() + timeout_s
    answered = 0
    with httpx.Client(timeout=10.0, verify=verify) as http:
        while time.monotonic() < deadline and not stop_requested() and answered < WARMUP_ANSWERS:
            try:
                if http.get(url).status_code < 500:
                    answered += 1
                    continue
            except httpx.HTTPError:
                pass
            time.sleep(_RETRY_S)
    if answered == 0 and not stop_requested():
        raise LoadError(
            f"{url} did not answer below HTTP 500 within {timeout_s:.0f} s after every dyno was up; "
            "check the app's logs (`heroku logs -a APP`) before testing its capacity."
        )
    return answered
