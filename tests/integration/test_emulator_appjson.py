"""Apps from their directories: app.json's env, add-ons and formation, and the Procfile's release phase.

The apps are the test apps under tests/apps/: `pg_notes` (notes in PostgreSQL
through DATABASE_URL, its table made by a `release:` command) and
`redis_counter` (a hit counter through REDIS_URL). Requests go through the
emulator's router to the dynos and on to the real services.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.emulator import EmulatorProcess
from harness.emulator.addons_services import find_binary
from harness.errors import EmulatorError
from tests.integration.api_helpers import api_client, ok, wait_for
from tests.integration.helpers import REPO, trusting

pytest.importorskip("psycopg")
pytest.importorskip("redis")

APPS = REPO / "tests" / "apps"
PG_APP = APPS / "pg_notes"
REDIS_APP = APPS / "redis_counter"


@pytest.fixture(autouse=True)
def services_installed() -> None:
    for binary, package in (("initdb", "postgresql"), ("redis-server", "redis-server")):
        try:
            find_binary(binary, package=package, service="test")
        except EmulatorError:
            pytest.skip(f"`{binary}` is missing: install Debian's `{package}` (apt-get install {package})")


@pytest.fixture(scope="module")
def apps_emulator() -> Iterator[EmulatorProcess]:
    process = EmulatorProcess.start(
        {"notes": PG_APP, "counter": REDIS_APP},
        boot_timeout_s=30.0,
        shutdown_grace_s=2.0,
        ready_timeout_s=180.0,
    )
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def api(apps_emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    with api_client(apps_emulator, 120.0) as client:
        yield client


def dynos_on(api: httpx.Client, app: str, count: int, version: int) -> list[dict[str, Any]] | None:
    dynos = [d for d in ok(api.get(f"/apps/{app}/dynos")) if d["type"] == "web"]
    fits = len(dynos) == count and all(
        d["state"] == "up" and d["release"]["version"] == version for d in dynos
    )
    return dynos if fits else None


def test_app_json_gives_env_addons_and_formation(api: httpx.Client, apps_emulator: EmulatorProcess) -> None:
    config = ok(api.get("/apps/notes/config-vars"))
    assert re.fullmatch(r"[0-9a-f]{64}", config["SECRET_KEY"]), "generator: secret"
    assert config["GREETING"] == "hello from app.json" and "OPTIONAL_FLAG" not in config
    assert config["DATABASE_URL"].startswith("postgres://")
    [addon] = ok(api.get("/apps/notes/addons"))
    assert addon["plan"]["name"] == "heroku-postgresql:essential-0" and addon["state"] == "provisioned"
    web = ok(api.get("/apps/notes/formation/web"))
    assert (web["quantity"], web["size"]) == (2, "Standard-1X")
    [v1] = ok(api.get("/apps/notes/releases"))
    assert v1["status"] == "succeeded" and "heroku-postgresql:essential-0" in v1["addon_plan_names"]
    wait_for("two web dynos up on v1", lambda: dynos_on(api, "notes", 2, 1))

    with httpx.Client(
        base_url=apps_emulator.web_url("notes"), verify=trusting(apps_emulator), timeout=30.0
    ) as web_client:
        assert web_client.get("/").json()["greeting"] == "hello from app.json"
        note = web_client.post("/notes", content="written through DATABASE_URL")
        assert note.status_code == 201, note.text
        read = web_client.get(f"/notes/{note.json()['id']}")
        assert read.json() == {"body": "written through DATABASE_URL"}

    counter_config = ok(api.get("/apps/counter/config-vars"))
    assert counter_config["REDIS_URL"].startswith("redis://:")
    wait_for("the counter's web dyno", lambda: dynos_on(api, "counter", 1, 1))
    with httpx.Client(
        base_url=apps_emulator.web_url("counter"), verify=trusting(apps_emulator), timeout=30.0
    ) as counter:
        first = counter.get("/hit").json()["hits"]
        assert counter.get("/hit").json()["hits"] == first + 1
        assert counter.get("/hits").json()["hits"] == first + 1


def test_a_failing_release_command_fails_the_release_and_keeps_the_dynos(api: httpx.Client) -> None:
    before = wait_for("two web dynos", lambda: dynos_on(api, "notes", 2, 1) or _current(api))
    version = before[0]["release"]["version"]
    ids = sorted(d["id"] for d in before)
    ok(api.patch("/apps/notes/config-vars", json={"NOTES_BREAK_RELEASE": "1"}))
    releases = ok(api.get("/apps/notes/releases"))
    failed = releases[-1]
    assert failed["status"] == "failed" and failed["current"] is False, failed
    assert next(r for r in releases if r["current"])["version"] == version
    dynos = [d for d in ok(api.get("/apps/notes/dynos")) if d["type"] == "web"]
    assert sorted(d["id"] for d in dynos) == ids, "the dynos were not restarted"
    assert {d["release"]["version"] for d in dynos} == {version}

    ok(api.patch("/apps/notes/config-vars", json={"NOTES_BREAK_RELEASE": None}))
    fixed = ok(api.get("/apps/notes/releases"))[-1]
    assert fixed["status"] == "succeeded" and fixed["current"] is True
    wait_for("the dynos on the fixed release", lambda: dynos_on(api, "notes", 2, fixed["version"]))


def _current(api: httpx.Client) -> list[dict[str, Any]] | None:
    """The web dynos when all are up on the current release (an earlier test may have made more)."""
    current = next(r for r in ok(api.get("/apps/notes/releases")) if r["current"])
    return dynos_on(api, "notes", 2, current["version"])


def test_a_release_command_failing_on_the_first_release_stops_the_emulator_start(tmp_path: Path) -> None:
    app = tmp_path / "broken"
    app.mkdir()
    (app / "Procfile").write_text("release: echo migrating; exit 3\nweb: python -m http.server $PORT\n")
    with pytest.raises(EmulatorError) as caught:
        EmulatorProcess.start({"broken": app}, boot_timeout_s=20.0).stop()
    assert "release phase failed" in str(caught.value) and "migrating" in str(caught.value)


def test_a_required_env_var_without_value_stops_the_emulator_start(tmp_path: Path) -> None:
    app = tmp_path / "needs-key"
    app.mkdir()
    (app / "Procfile").write_text("web: python -m http.server $PORT\n")
    (app / "app.json").write_text('{"env": {"API_KEY": {"description": "yours", "required": true}}}')
    with pytest.raises(EmulatorError) as caught:
        EmulatorProcess.start({"needs-key": app}, boot_timeout_s=20.0).stop()
    assert "env.API_KEY" in str(caught.value) and "is required" in str(caught.value)


def test_a_rollback_runs_the_release_phase_too(api: httpx.Client) -> None:
    def migrations() -> int:
        session = ok(api.post("/apps/notes/log-sessions", json={"lines": 1500}), 201)
        return httpx.get(session["logplex_url"], timeout=30.0).text.count("migrated: table notes is ready")

    before = migrations()
    v1 = ok(api.get("/apps/notes/releases/1"))
    rolled = ok(api.post("/apps/notes/releases", json={"release": v1["id"]}), 201)
    assert rolled["status"] == "succeeded" and rolled["description"] == "Rollback to v1"
    assert migrations() == before + 1
    wait_for("the dynos on the rollback", lambda: dynos_on(api, "notes", 2, rolled["version"]))
