"""`harness emulator deploy APP DIR`: build DIR and release it to APP on a running emulator.

The Build API as `git push heroku` uses it: `POST /apps/{app}/builds` with the
directory as a `file://` source, then the build's log (its `output_stream_url`)
printed as it grows until the build is `succeeded` (a new release) or `failed`.
The emulator stands alone, so this talks HTTP with httpx, not harness's client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from harness.errors import EmulatorError

__all__ = ["deploy_directory"]

ACCEPT = "application/vnd.heroku+json; version=3"
POLL_S = 0.5
DEPLOY_TIMEOUT_S = 1800.0


def _checked(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        try:
            message = response.json().get("message", response.text)
        except ValueError:
            message = response.text
        raise EmulatorError(f"{what} failed: {response.status_code} {message}")
    return (
        response.json() if response.headers.get("content-type", "").startswith("application/json") else None
    )


def deploy_directory(
    api_url: str,
    token: str,
    app: str,
    directory: Path,
    *,
    echo: Callable[[str], None],
    version: str | None = None,
    timeout_s: float = DEPLOY_TIMEOUT_S,
) -> dict[str, Any]:
    """Build and release `directory` to `app`; returns the finished build (EmulatorError if it failed)."""
    headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT}
    blob: dict[str, Any] = {"url": directory.resolve().as_uri()}
    if version:
        blob["version"] = version
    with httpx.Client(base_url=api_url, headers=headers, timeout=30.0) as api:
        try:
            build = _checked(
                api.post(f"/apps/{app}/builds", json={"source_blob": blob}), "Creating the build"
            )
            shown, deadline = 0, time.monotonic() + timeout_s
            while True:
                lines = api.get(build["output_stream_url"]).text.splitlines()
                for line in lines[shown:]:
                    echo(line)
                shown = len(lines)
                if build["status"] != "pending" or time.monotonic() > deadline:
                    break
                time.sleep(POLL_S)
                build = _checked(api.get(f"/apps/{app}/builds/{build['id']}"), "Reading the build")
        except httpx.HTTPError as exc:
            raise EmulatorError(
                f"Cannot reach the emulator at {api_url} ({type(exc).__name__}): is `harness emulator serve` "
                "running, and is --api-url (HEROKU_API_URL) its Platform API URL?"
            ) from None
    if build["status"] != "succeeded":
        raise EmulatorError(f"The build of {directory} for {app} {build['status']}: see its log above.")
    return dict(build)
