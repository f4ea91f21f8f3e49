"""One-off dynos (`heroku run`): `POST /apps/{app}/dynos`, detached (output to the app log) or attached.

Run against an app of its own with a real PostgreSQL add-on, so the one-off
is what a user would run before a test: a migration through DATABASE_URL.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from harness.emulator import EmulatorProcess
from harness.emulator.addons_services import find_binary
from harness.errors import EmulatorError
from tests.integration.api_helpers import api_client, ok, wait_for

psycopg = pytest.importorskip("psycopg")
DEMO = "harness-demo"
MARKER = "\uffff heroku-command-exit-status: "


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    with api_client(emulator, 120.0) as client:
        yield client


def one_offs(api: httpx.Client, app: str) -> list[dict[str, Any]]:
    return [d for d in ok(api.get(f"/apps/{app}/dynos")) if d["type"] == "run"]


def app_log(api: httpx.Client, app: str) -> str:
    session = ok(api.post(f"/apps/{app}/log-sessions", json={"lines": 1500}), 201)
    return httpx.get(session["logplex_url"], timeout=30.0).text


def test_a_detached_one_off_migrates_the_app_database(api: httpx.Client, own_app: dict[str, Any]) -> None:
    try:
        find_binary("initdb", package="postgresql", service="test")
    except EmulatorError:
        pytest.skip("`initdb` is missing: install Debian's `postgresql` package (apt-get install postgresql)")
    app = own_app["name"]
    ok(api.post(f"/apps/{app}/addons", json={"plan": "heroku-postgresql:essential-0"}), 201)
    migrate = (
        f"{sys.executable} -c \"import os, psycopg; c = psycopg.connect(os.environ['DATABASE_URL']); "
        "c.execute('CREATE TABLE migrated (n int)'); c.commit(); print('migration applied')\"; sleep 2"
    )
    dyno = ok(api.post(f"/apps/{app}/dynos", json={"command": migrate}), 201)
    assert dyno["type"] == "run" and dyno["name"] == "run.1" and dyno["attach_url"] is None
    assert dyno["release"]["version"] == ok(api.get(f"/apps/{app}/releases"))[-1]["version"]
    listed = wait_for("run.1 listed as up", lambda: [d for d in one_offs(api, app) if d["state"] == "up"])
    assert listed[0]["name"] == "run.1"
    ok(api.get(f"/apps/{app}/dynos/run.1"))
    wait_for("run.1 to finish", lambda: not one_offs(api, app))
    log = app_log(api, app)
    assert "app[run.1]: migration applied" in log and "heroku[run.1]: Process exited with status 0" in log
    url = ok(api.get(f"/apps/{app}/config-vars"))["DATABASE_URL"]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM migrated").fetchone() == (0,)


def test_an_attached_one_off_streams_its_output_and_exit_status(
    api: httpx.Client, own_app: dict[str, Any]
) -> None:
    app = own_app["name"]
    body = {"command": "echo first; echo $WHO; exit 3", "attach": True, "env": {"WHO": "from the request"}}
    dyno = ok(api.post(f"/apps/{app}/dynos", json=body), 201)
    assert dyno["attach_url"].startswith("http://127.0.0.1:") and "/rendezvous/" in dyno["attach_url"]
    with httpx.stream("GET", dyno["attach_url"], timeout=60.0) as stream:
        text = "".join(stream.iter_text())
    assert text == f"first\nfrom the request\n{MARKER}3\n"
    assert "from the request" not in app_log(api, app), "attached output goes to the client, not the log"
    bad = httpx.get(dyno["attach_url"].rsplit("/", 1)[0] + "/not-the-secret", timeout=30.0)
    assert bad.status_code == 404


def sleepers_of(emulator: EmulatorProcess) -> list[psutil.Process]:
    """The one-off's two `sleep` processes (children of the emulator, by their unusual durations)."""
    found = []
    for process in psutil.Process(emulator.pid).children(recursive=True):
        try:
            if process.cmdline()[:2] in (["sleep", "317"], ["sleep", "318"]):
                found.append(process)
        except psutil.NoSuchProcess:  # a process that ended while we looked
            continue
    return found


def test_stopping_a_one_off_ends_its_processes(
    api: httpx.Client, emulator: EmulatorProcess, own_app: dict[str, Any]
) -> None:
    app = own_app["name"]
    ok(api.post(f"/apps/{app}/dynos", json={"command": "sleep 317 & sleep 318; wait", "attach": True}), 201)
    [dyno] = wait_for("run.1 up", lambda: [d for d in one_offs(api, app) if d["state"] == "up"])
    sleepers = wait_for(
        "its two sleeps", lambda: (found := sleepers_of(emulator)) and len(found) == 2 and found
    )
    assert api.delete(f"/apps/{app}/dynos/{dyno['name']}").status_code == 202
    wait_for("run.1 gone", lambda: not one_offs(api, app))
    wait_for(
        "its processes gone", lambda: not any(p.is_running() and p.status() != "zombie" for p in sleepers)
    )


def test_bad_one_off_requests_are_clear_errors(api: httpx.Client, own_app: dict[str, Any]) -> None:
    app = own_app["name"]
    for body, hint in [
        ({}, "command"),
        ({"command": "true", "attach": "yes"}, "attach"),
        ({"command": "true", "size": "Gigantic-9X"}, "No such size"),
        ({"command": "true", "env": {"A": 1}}, "env"),
    ]:
        response = api.post(f"/apps/{app}/dynos", json=body)
        assert response.status_code == 422 and hint in response.json()["message"], response.text
    blank = ok(api.post("/apps", json={}), 201)
    try:
        assert api.post(f"/apps/{blank['id']}/dynos", json={"command": "true"}).status_code == 404
    finally:
        api.delete(f"/apps/{blank['id']}")


def test_harness_emulator_run_streams_and_exits_with_the_command_status(
    emulator: EmulatorProcess, own_app: dict[str, Any]
) -> None:
    from click.testing import CliRunner

    from harness.cli.app import cli

    app = own_app["name"]
    options = ["--api-url", emulator.api_url, "--token", emulator.token]
    result = CliRunner().invoke(
        cli, ["emulator", "run", app, *options, "--", "sh", "-c", "echo ran here; exit 4"]
    )
    assert result.exit_code == 4, result.output
    assert result.output == "ran here\n"
    detached = CliRunner().invoke(cli, ["emulator", "run", app, *options, "--detach", "--", "true"])
    assert detached.exit_code == 0 and f"on {app}... up, run." in detached.output, detached.output
    refused = CliRunner().invoke(cli, ["emulator", "run", "no-such-app", *options, "--", "true"])
    assert refused.exit_code == 3 and "Couldn't find that app" in refused.output, refused.output


def test_stopping_the_emulator_ends_its_one_off_dynos() -> None:
    emulator = EmulatorProcess.start(boot_timeout_s=20.0, shutdown_grace_s=2.0)
    try:
        with api_client(emulator) as api:
            ok(api.post(f"/apps/{DEMO}/dynos", json={"command": "sleep 317 & sleep 318; wait"}), 201)
        sleepers = wait_for(
            "its two sleeps", lambda: (found := sleepers_of(emulator)) and len(found) == 2 and found
        )
    finally:
        emulator.stop()
    wait_for(
        "its processes gone", lambda: not any(p.is_running() and p.status() != "zombie" for p in sleepers)
    )
