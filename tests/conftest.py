"""Session-wide test setup.

The gevent patch comes first, exactly as in `harness.cli.main`: Locust's tests
and ours import locust (which patches) and httpx (which must be imported after
the patch). The emulator never runs in this process: tests start it as a
subprocess, as `harness run` does.
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def clean_environ() -> Iterator[None]:
    """No test sees the developer's Heroku token or harness settings."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith(("HEROKU_", "HARNESS_")):
            del os.environ[key]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
