"""Add-ons that are real services: PostgreSQL and redis-server behind `POST /apps/{app}/addons`.

Each test works on an app of its own (the demo slug released to a new app),
talks to the provisioned database and Redis with real clients (psycopg,
redis-py) through the URLs the emulator set, checks every answer against
Heroku's published schema, and proves that deprovisioning and every way the
emulator can stop (SIGINT, SIGTERM, its parent killed with SIGKILL) leave no
service process and no data directory behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from harness.emulator import EmulatorProcess
from harness.emulator.addons_services import find_binary
from tests.integration.api_helpers import ACCEPT, api_client, ok, wait_for
from tests.integration.helpers import REPO

psycopg = pytest.importorskip("psycopg")
redis = pytest.importorskip("redis")

DEMO = "harness-demo"


def _need(binary: str, package: str) -> None:
    try:
        find_binary(binary, package=package, service="test")
    except Exception:
        pytest.skip(
            f"`{binary}` is missing: install Debian's `{package}` package (apt-get install {package})"
        )


@pytest.fixture(autouse=True)
def services_installed() -> None:
    _need("initdb", "postgresql")
    _need("redis-server", "redis-server")


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    with api_client(emulator, 120.0) as http:
        yield http


def name_of(pid: int) -> str | None:
    """A process's name; None once it has exited (a PostgreSQL backend may end any time)."""
    try:
        return psutil.Process(pid).name()
    except psutil.NoSuchProcess:
        return None


def is_service(process: psutil.Process) -> bool:
    """A postgres or redis-server process that still runs."""
    return name_of(process.pid) in ("postgres", "redis-server")


def service_pids(emulator: EmulatorProcess) -> set[int]:
    """PIDs of the emulator's postgres/redis-server processes (its process tree)."""
    return {p.pid for p in psutil.Process(emulator.pid).children(recursive=True) if is_service(p)}


def gone(pids: set[int]) -> bool:
    """True when none of `pids` runs any more (zombies count as gone)."""
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


def up_on(api: httpx.Client, app: str, version: int) -> list[dict[str, Any]] | None:
    dynos = ok(api.get(f"/apps/{app}/dynos"))
    fits = dynos and all(d["state"] == "up" and d["release"]["version"] == version for d in dynos)
    return dynos if fits else None


def test_postgres_addon_is_a_real_database_until_deprovisioned(
    api: httpx.Client, own_app: dict[str, Any]
) -> None:
    app = own_app["name"]
    addon = ok(api.post(f"/apps/{app}/addons", json={"plan": "heroku-postgresql:essential-0"}), 201)
    assert addon["plan"]["name"] == "heroku-postgresql:essential-0" and addon["state"] == "provisioned"
    assert addon["config_vars"] == ["DATABASE_URL", "HEROKU_POSTGRESQL_AMBER_URL"]
    config = ok(api.get(f"/apps/{app}/config-vars"))
    url = config["DATABASE_URL"]
    assert url.startswith("postgres://") and "@127.0.0.1:" in url
    assert config["HEROKU_POSTGRESQL_AMBER_URL"] == url
    release = ok(api.get(f"/apps/{app}/releases"))[-1]
    assert release["description"] == f"Attach DATABASE (@ref:{addon['name']})"
    assert "heroku-postgresql:essential-0" in release["addon_plan_names"]
    wait_for("dynos restarted on the attach release", lambda: up_on(api, app, release["version"]))

    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text)")
        conn.execute("INSERT INTO notes (body) VALUES ('kept')")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT body FROM notes").fetchall() == [("kept",)]

    assert ok(api.get(f"/apps/{app}/addons/{addon['id']}"))["name"] == addon["name"]
    assert ok(api.get(f"/apps/{app}/addons/{addon['name']}"))["id"] == addon["id"]
    assert [a["id"] for a in ok(api.get(f"/apps/{app}/addons"))] == [addon["id"]]
    assert addon["id"] in [a["id"] for a in ok(api.get("/addons"))]
    ok(api.get(f"/addons/{addon['id']}"))
    attachments = ok(api.get(f"/apps/{app}/addon-attachments"))
    assert sorted(a["name"] for a in attachments) == ["DATABASE", "HEROKU_POSTGRESQL_AMBER"]
    ok(api.get(f"/addons/{addon['id']}/addon-attachments"))

    second = ok(api.post(f"/apps/{app}/addons", json={"plan": "heroku-postgresql:standard-0"}), 201)
    assert second["config_vars"] == ["HEROKU_POSTGRESQL_BLACK_URL"], "DATABASE_URL stays the first's"
    assert ok(api.get(f"/apps/{app}/config-vars"))["DATABASE_URL"] == url

    removed = ok(api.delete(f"/apps/{app}/addons/{addon['id']}"))
    assert removed["state"] == "deprovisioned"
    config = ok(api.get(f"/apps/{app}/config-vars"))
    assert "DATABASE_URL" not in config and "HEROKU_POSTGRESQL_AMBER_URL" not in config
    assert (
        ok(api.get(f"/apps/{app}/releases"))[-1]["description"] == f"Detach DATABASE (@ref:{addon['name']})"
    )
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=10).close()  # its role and database are gone
    with psycopg.connect(config["HEROKU_POSTGRESQL_BLACK_URL"]) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,), "the other add-on keeps its database"
    assert api.get(f"/apps/{app}/addons/{addon['id']}").status_code == 404


def test_redis_addon_is_a_real_server_until_deprovisioned(
    api: httpx.Client, emulator: EmulatorProcess, own_app: dict[str, Any]
) -> None:
    app = own_app["name"]
    before = service_pids(emulator)
    addon = ok(api.post(f"/apps/{app}/addons", json={"plan": "heroku-redis:mini"}), 201)
    assert addon["config_vars"] == ["REDIS_URL"]
    url = ok(api.get(f"/apps/{app}/config-vars"))["REDIS_URL"]
    assert url.startswith("redis://:") and "@127.0.0.1:" in url
    store = redis.Redis.from_url(url, socket_timeout=10)
    store.set("visits", 41)
    assert store.incr("visits") == 42
    assert int(store.config_get("maxmemory")["maxmemory"]) == 25 * 1024 * 1024, "the mini plan's 25 MB"
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=store.connection_pool.connection_kwargs["port"], password="wrong").ping()
    started = service_pids(emulator) - before
    assert len(started) == 1

    named = ok(
        api.post(f"/apps/{app}/addons", json={"plan": "heroku-redis", "attachment": {"name": "CACHE"}}), 201
    )
    assert named["config_vars"] == ["CACHE_URL"] and named["plan"]["name"] == "heroku-redis:mini"
    ok(api.delete(f"/apps/{app}/addons/{addon['name']}"))
    assert "REDIS_URL" not in ok(api.get(f"/apps/{app}/config-vars"))
    wait_for("its redis-server to stop", lambda: gone(started))
    with pytest.raises(redis.ConnectionError):
        store.ping()


def test_bad_addon_requests_are_clear_errors(api: httpx.Client, own_app: dict[str, Any]) -> None:
    app = own_app["name"]
    cases = [
        ({"plan": "heroku-mongodb:mini"}, "heroku-postgresql and heroku-redis"),
        ({"plan": "heroku-postgresql:gigantic-9"}, "essential-0"),
        ({}, "Require params: plan"),
        ({"plan": "heroku-redis", "attachment": {"name": "lower"}}, "uppercase"),
    ]
    for body, hint in cases:
        response = api.post(f"/apps/{app}/addons", json=body)
        assert response.status_code == 422 and hint in response.json()["message"], response.text
    assert api.get(f"/apps/{app}/addons/nope").json()["id"] == "not_found"
    assert api.delete(f"/apps/{app}/addons/nope").status_code == 404
    assert ok(api.get(f"/apps/{app}/addons")) == [], "a refused add-on leaves nothing behind"


def test_deleting_an_app_deprovisions_its_addons(api: httpx.Client, emulator: EmulatorProcess) -> None:
    app = ok(api.post("/apps", json={}), 201)
    before = service_pids(emulator)
    try:
        ok(api.post(f"/apps/{app['id']}/addons", json={"plan": "heroku-redis:mini"}), 201)
        url = ok(api.post(f"/apps/{app['id']}/addons", json={"plan": "heroku-postgresql"}), 201)
        assert url["config_vars"] == ["DATABASE_URL", "HEROKU_POSTGRESQL_AMBER_URL"]
        database_url = ok(api.get(f"/apps/{app['id']}/config-vars"))["DATABASE_URL"]
        started = service_pids(emulator) - before
        redis_pids = {p for p in started if name_of(p) == "redis-server"}
    finally:
        ok(api.delete(f"/apps/{app['id']}"))
    assert len(redis_pids) == 1
    wait_for("the app's redis-server to stop", lambda: gone(redis_pids))
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(database_url, connect_timeout=10).close()


def test_a_missing_binary_names_the_debian_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with EmulatorProcess.start(boot_timeout_s=20.0) as emulator, api_client(emulator, 120.0) as api:
        response = api.post(f"/apps/{DEMO}/addons", json={"plan": "heroku-redis:mini"})
    assert response.status_code == 422
    message = response.json()["message"]
    assert "`redis-server`" in message and "apt-get install redis-server" in message


# -- every exit path -------------------------------------------------------------------------------

PARENT = r"""
import json, sys, time, httpx
from harness.emulator import EmulatorProcess
emulator = EmulatorProcess.start(boot_timeout_s=20.0, shutdown_grace_s=2.0)
api = httpx.Client(base_url=emulator.api_url, timeout=120.0,
                   headers={"Authorization": f"Bearer {emulator.token}", "Accept": sys.argv[1]})
for plan in ("heroku-postgresql:essential-0", "heroku-redis:mini"):
    assert api.post("/apps/harness-demo/addons", json={"plan": plan}).status_code == 201
print(json.dumps({"pid": emulator.pid}), flush=True)
time.sleep(600)
"""


def _service_dirs(pids: set[int]) -> set[Path]:
    """The directories the services run in: their data lives there and nowhere else."""
    dirs = set()
    for pid in pids:
        try:
            if name_of(pid) in ("postgres", "redis-server"):
                dirs.add(Path(psutil.Process(pid).cwd()))
        except psutil.NoSuchProcess:
            continue
    return dirs


def _provisioned(emulator: EmulatorProcess) -> set[int]:
    with api_client(emulator, 120.0) as api:
        for plan in ("heroku-postgresql:essential-0", "heroku-redis:mini"):
            ok(api.post(f"/apps/{DEMO}/addons", json={"plan": plan}), 201)
    pids = service_pids(emulator)
    assert {name_of(p) for p in pids} >= {"postgres", "redis-server"}
    return pids


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stopping_the_emulator_stops_its_services(sig: signal.Signals) -> None:
    emulator = EmulatorProcess.start(boot_timeout_s=20.0, shutdown_grace_s=2.0)
    try:
        pids = _provisioned(emulator)
        dirs = _service_dirs(pids)
        assert len(dirs) >= 2 and all(d.is_dir() for d in dirs), "each service has a data directory"
        os.kill(emulator.pid, sig)
        wait_for("the emulator to exit", lambda: not emulator.running)
    finally:
        emulator.stop()
    wait_for("postgres and redis-server to stop", lambda: gone(pids))
    assert not [d for d in dirs if d.exists()], "their data directories are removed"


def test_a_killed_parent_takes_the_services_with_the_emulator() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, ACCEPT], cwd=REPO, stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line, "the parent did not start its emulator"
        emulator_pid = json.loads(line)["pid"]
        tree = psutil.Process(emulator_pid).children(recursive=True)
        pids = {p.pid for p in tree if is_service(p)} | {emulator_pid}
        assert len(pids) > 2
        dirs = _service_dirs(pids)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(30)
        wait_for("the emulator, postgres and redis-server to stop", lambda: gone(pids))
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    assert not [d for d in dirs if d.exists()], "their data directories are removed"


def test_a_refused_admin_statement_never_shows_the_password() -> None:
    import asyncio

    from harness.emulator.addons_postgres import PostgresServer
    from harness.emulator.addons_services import AddonServiceError

    async def attempt() -> str:
        server = await PostgresServer.start()
        try:
            await server.sql("CREATE ROLE u1 LOGIN PASSWORD 'hunter2-secret' BOGUS;", hide="hunter2-secret")
        except AddonServiceError as exc:
            return str(exc)
        finally:
            await server.stop()
        return ""

    message = asyncio.run(attempt())
    assert "LINE 1" in message and "[secure]" in message and "hunter2-secret" not in message
