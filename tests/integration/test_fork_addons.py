"""`harness fork` with real add-ons on the emulator: a PostgreSQL and a Redis of the production app
are provisioned again for the fork (plans overridable), its data copied from one real database into
the other when asked, a failed provisioning re-run makes no second add-on, and `destroy-fork` takes
the add-ons with the app. The database URLs (with their passwords) appear in no output or journal.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from harness.cli.app import cli
from harness.emulator import EmulatorProcess
from harness.platform.pgcopy import pg_environment
from tests.integration.run_helpers import api_client

PROD = "shop"
SECRET = f"s3cret-{uuid.uuid4().hex}"
ROWS = ["alpha", "beta", f"gamma-{uuid.uuid4().hex[:6]}"]


def _psql(url: str, sql: str) -> str:
    psql = shutil.which("psql")
    assert psql is not None
    done = subprocess.run(
        [psql, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
        env={"PATH": "/usr/bin:/bin", **pg_environment(url)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    for binary in ("psql", "pg_dump", "redis-server"):
        if shutil.which(binary) is None:
            pytest.skip(f"{binary} is missing: apt-get install postgresql redis-server")
    app_dir = tmp_path_factory.mktemp("shop")
    (app_dir / "Procfile").write_text("web: python -m harness.emulator.demo_app\n")
    process = EmulatorProcess.start(apps={PROD: app_dir}, boot_timeout_s=60.0, shutdown_grace_s=1.0)
    try:
        with api_client(process) as api:
            for plan in ("heroku-postgresql:essential-0", "heroku-redis:mini"):
                response = api.post(f"/apps/{PROD}/addons", json={"plan": plan})
                if response.status_code == 404 and "endpoint was not found" in response.text:
                    pytest.skip("this emulator provisions no add-ons (POST /apps/{app}/addons, issue 13)")
                assert response.status_code == 201, response.text
            api.patch(f"/apps/{PROD}/config-vars", json={"SESSION_SECRET": SECRET}).raise_for_status()
            url = api.get(f"/apps/{PROD}/config-vars").json()["DATABASE_URL"]
        values = ", ".join(f"('{row}')" for row in ROWS)
        _psql(url, f"CREATE TABLE notes (body text); INSERT INTO notes VALUES {values};")
        yield process
    finally:
        process.stop()


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    with api_client(emulator) as client:
        yield client


@pytest.fixture
def fork_name(api: httpx.Client, emulator: EmulatorProcess) -> Iterator[str]:
    name = f"fork-{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        emulator.clear_faults()
        api.delete(f"/apps/{name}")


def secrets_of(api: httpx.Client) -> list[str]:
    """Every config var value of production (database and Redis URLs with passwords, the secret)."""
    return [v for v in api.get(f"/apps/{PROD}/config-vars").json().values() if len(v) > 6]


def invoke(
    emulator: EmulatorProcess, tmp_path: Path, api: httpx.Client, args: list[str], **env: str
) -> Result:
    full = {
        "HEROKU_API_URL": emulator.api_url,
        "HEROKU_API_KEY": emulator.token,
        "HARNESS_STATE_DIR": str(tmp_path / "state"),
        **env,
    }
    result = CliRunner().invoke(cli, args, env=full, catch_exceptions=False)
    for value in secrets_of(api):
        assert value not in result.output
    return result


def addons_of(api: httpx.Client, app: str) -> list[tuple[str, str]]:
    return sorted(
        (a["addon_service"]["name"], a["plan"]["name"]) for a in api.get(f"/apps/{app}/addons").json()
    )


def parity(emulator: EmulatorProcess, tmp_path: Path, api: httpx.Client, name: str) -> dict[str, Any]:
    args = ["parity", "--production", PROD, "--staging", name, "--format", "json"]
    return dict(json.loads(invoke(emulator, tmp_path, api, args).output))


def test_add_ons_are_provisioned_again_and_the_data_copied(
    emulator: EmulatorProcess, api: httpx.Client, fork_name: str, tmp_path: Path
) -> None:
    args = ["fork", "--from", PROD, "--to", fork_name, "--copy-data"]
    result = invoke(emulator, tmp_path, api, args)
    assert result.exit_code == 0, result.output
    assert addons_of(api, fork_name) == addons_of(api, PROD)
    report = parity(emulator, tmp_path, api, fork_name)
    assert report["differences"] == [], report["differences"]
    prod_config, fork_config = (api.get(f"/apps/{a}/config-vars").json() for a in (PROD, fork_name))
    assert fork_config["DATABASE_URL"] != prod_config["DATABASE_URL"], "never production's database"
    assert fork_config["REDIS_URL"] != prod_config["REDIS_URL"]
    copied = _psql(fork_config["DATABASE_URL"], "SELECT body FROM notes ORDER BY body").splitlines()
    assert copied == sorted(ROWS)
    assert _psql(prod_config["DATABASE_URL"], "SELECT count(*) FROM notes") == str(len(ROWS)), "source intact"
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file():
            assert not any(v in path.read_text() for v in secrets_of(api)), path


def test_another_plan_is_reported_and_a_failed_provisioning_makes_no_duplicate(
    emulator: EmulatorProcess, api: httpx.Client, fork_name: str, tmp_path: Path
) -> None:
    args = ["fork", "--from", PROD, "--to", fork_name, "--plan", "heroku-postgresql=essential-1"]
    emulator.fail_next(1, 503, method="POST", path=f"/apps/{fork_name}/addons")
    assert invoke(emulator, tmp_path, api, args).exit_code == 3
    emulator.clear_faults()
    assert invoke(emulator, tmp_path, api, args).exit_code == 0
    assert invoke(emulator, tmp_path, api, args).exit_code == 0, "a third run changes nothing"
    assert addons_of(api, fork_name) == [
        ("heroku-postgresql", "heroku-postgresql:essential-1"),
        ("heroku-redis", "heroku-redis:mini"),
    ]
    [plan] = [
        d for d in parity(emulator, tmp_path, api, fork_name)["differences"] if d["aspect"] == "add-on plan"
    ]
    assert plan["severity"] == "high"
    assert plan["effect"] == (
        "staging uses heroku-postgresql:essential-1, production essential-0: results bound by "
        "heroku-postgresql will not transfer."
    )
    api.delete(f"/apps/{fork_name}/addons/{_addon_name(api, fork_name, 'heroku-redis')}").raise_for_status()
    missing = [
        d for d in parity(emulator, tmp_path, api, fork_name)["differences"] if d["aspect"] == "add-on"
    ]
    assert [(d["subject"], d["severity"]) for d in missing] == [("heroku-redis", "high")]


def _addon_name(api: httpx.Client, app: str, service: str) -> str:
    return next(
        a["name"] for a in api.get(f"/apps/{app}/addons").json() if a["addon_service"]["name"] == service
    )


def test_destroy_fork_takes_the_add_ons_with_it(
    emulator: EmulatorProcess, api: httpx.Client, fork_name: str, tmp_path: Path
) -> None:
    assert invoke(emulator, tmp_path, api, ["fork", "--from", PROD, "--to", fork_name]).exit_code == 0
    names = {a["name"] for a in api.get(f"/apps/{fork_name}/addons").json()}
    assert invoke(emulator, tmp_path, api, ["destroy-fork", "--app", fork_name]).exit_code == 0
    remaining = {a["name"] for a in api.get("/addons").json()}
    assert not names & remaining
    assert len(addons_of(api, PROD)) == 2, "production keeps its add-ons"
