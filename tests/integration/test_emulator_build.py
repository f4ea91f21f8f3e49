"""Apps built as Heroku's Python buildpack builds them: an own virtualenv from requirements.txt, cached.

The Flask app under tests/apps/flask_shop stands in for heroku/python-getting-started: its
dependencies come from PyPI into its own virtualenv under the emulator home (the default home,
so a second run finds the build cached), and with DYNO set it redirects plain HTTP to HTTPS.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness.emulator import EmulatorProcess
from harness.emulator.home import emulator_home
from harness.errors import EmulatorError
from tests.harness_process import HarnessProcess
from tests.integration.helpers import REPO, plain_http, trusting
from tests.integration.run_helpers import harness_env, run_dirs

FLASK_SHOP = REPO / "tests" / "apps" / "flask_shop"
BOOT_S = 120.0


def _up(emulator: EmulatorProcess, app: str) -> httpx.Response:
    deadline = time.monotonic() + BOOT_S
    while True:
        try:
            response = httpx.get(emulator.web_url(app), verify=trusting(emulator), timeout=10)
            if response.status_code < 500 or time.monotonic() > deadline:
                return response
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.3)


def _slug(emulator: EmulatorProcess, app: str) -> dict[str, object]:
    headers = {
        "Authorization": f"Bearer {emulator.token}",
        "Accept": "application/vnd.heroku+json; version=3",
    }
    with httpx.Client(base_url=emulator.api_url, headers=headers, timeout=30) as api:
        release = api.get(f"/apps/{app}/releases").json()[-1]
        slug: dict[str, object] = api.get(f"/apps/{app}/slugs/{release['slug']['id']}").json()
        return slug


@pytest.mark.slow
def test_a_flask_app_runs_in_its_own_venv_over_https_with_its_production_settings() -> None:
    with EmulatorProcess.start(apps={"shop": FLASK_SHOP}, ready_timeout_s=600, boot_timeout_s=60) as emulator:
        served = _up(emulator, "shop")
        assert served.status_code == 200, served.text
        seen = served.json()
        assert seen["dyno"] == "web.1" and seen["scheme"] == "https"
        venv = Path(seen["python"])
        assert venv.is_relative_to(emulator_home() / "builds") and venv != Path(sys.prefix)
        redirected = httpx.get(plain_http(emulator.web_url("shop")), timeout=10)
        assert redirected.status_code == 301
        assert redirected.headers["location"] == emulator.web_url("shop")
        log = emulator.output()
        assert "-----> Building on the Heroku-24 stack" in log
        assert "-----> Discovering process types" in log and "Procfile declares types -> web" in log
        assert "-----> Using cached install" in log or "pip install -r requirements.txt" in log
        slug = _slug(emulator, "shop")
        app_bytes = sum(p.stat().st_size for p in FLASK_SHOP.rglob("*") if p.is_file())
        assert isinstance(slug["size"], int) and slug["size"] > 1_000_000 > app_bytes, slug
    with EmulatorProcess.start(apps={"shop": FLASK_SHOP}, ready_timeout_s=120) as again:
        assert "-----> Using cached install of Python" in again.output()
        assert _up(again, "shop").json()["python"] == str(venv)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="needs an interpreter older than Django 6's 3.12")
def test_a_dependency_the_fallback_python_cannot_install_fails_the_build_naming_the_version(
    tmp_path: Path,
) -> None:
    app = tmp_path / "needs-new-python"
    shutil.copytree(FLASK_SHOP, app)
    (app / "requirements.txt").write_text("django>=6,<6.1\n")
    (app / ".python-version").write_text("3.99\n")
    with pytest.raises(EmulatorError, match=r"The build of app 'new' from \S+ failed") as failed:
        EmulatorProcess.start(apps={"new": app}, home=tmp_path / "home", ready_timeout_s=300)
    message = str(failed.value)
    assert "Error: Unable to install the app's dependencies using pip." in message
    assert "django<6.1,>=6 needs Python >=3.12; this build used Python 3." in message
    assert "The app asks for Python 3.99 (.python-version), which is not installed here." in message
    assert not list((tmp_path / "home" / "builds").glob("*/venv")), "a failed build leaves no venv"


STRESS_PROFILE = """
version: 1
target:
  app: flask-shop
  platform: emulator
  formations: [{{quantity: 1, size: Standard-1X}}]
  emulator:
    app_dir: {app_dir}
    config_vars: {{DATABASE_URL: "sqlite:///unused.sqlite3"}}
load_generator: {{request_timeout_s: 10}}
locustfiles:
  home: {{path: {locustfile}}}
expected_peak: {{rps: 10}}
reports_dir: {reports}
scenarios:
  - name: home-stress
    kind: stress
    locustfile: home
    start: {{rps: 10}}
    max: {{rps: 80}}
    growth: 2.0
    tolerance: 0.25
    ramp_s: 1
    step_hold_s: 2
    confirm_hold_s: 2
    slo: {{p95_ms: 1000, error_ratio: 0.01}}
    recovery: {{level: {{rps: 10}}, window_s: 1, limit_s: 6}}
"""


@pytest.mark.slow
def test_harness_run_stresses_the_built_app_over_https_and_reports_release_commit_and_slug_size(
    tmp_path: Path, harness_runs: list[HarnessProcess]
) -> None:
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text(
        STRESS_PROFILE.format(
            app_dir=FLASK_SHOP,
            locustfile=REPO / "tests" / "apps" / "flask_shop_home.py",
            reports=tmp_path / "reports",
        )
    )
    run = HarnessProcess(["run", "--scenarios", str(scenarios)], cwd=tmp_path, env=harness_env(tmp_path))
    harness_runs.append(run)
    assert run.wait(timeout_s=600) in (0, 1), run.output
    [run_dir] = run_dirs(tmp_path)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete" and record["platform"]["app_url"].startswith("https://127.0.0.1:")
    assert (
        record["release"]["version"] == 2 and len(record["release"]["commit"]) == 40
    )  # v2: DATABASE_URL set
    assert record["slug_size_bytes"] > 1_000_000, "the slug counts the app's installed dependencies"
    assert record["breaking_point"]["status"] != "aborted", record["breaking_point"]
    report = (run_dir / "report.html").read_text()
    assert record["release"]["commit"][:7] in report
