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
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# Read at import, before `clean_environ` hides every HARNESS_* variable from the tests.
ARTIFACTS_FROM_ENV = os.environ.get("HARNESS_TEST_ARTIFACTS", "")


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


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where tests leave files for people to look at (screenshots, PDFs), never the repository root.

    `$HARNESS_TEST_ARTIFACTS` when set (CI sets it and keeps the folder), else a temporary folder.
    """
    if ARTIFACTS_FROM_ENV:
        path = Path(ARTIFACTS_FROM_ENV).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("artifacts")
