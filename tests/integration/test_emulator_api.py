"""The emulator's Platform API over real HTTP on loopback, checked against Heroku's published schema.

Every response body is validated with `harness.emulator.schema.assert_response`:
draft-4 validation of the link's targetSchema (with `$ref`s resolved in the
schema file) plus "exactly the properties the resource defines". The only
relaxation is `app.web_url`'s pattern: the published one requires
`https://<name>.herokuapp.com/`, the emulator's app URL is its loopback router
(`https://127.0.0.1:<port>/`), so that one pattern is swapped for a loopback
pattern (see `schema.LOOPBACK_WEB_URL_PATTERN`).

Tests that change an app work on a fresh app of their own (`forked_app`: the
demo app's slug released to a new app, as `heroku fork` did), so the shared
session emulator's `harness-demo` stays at web=1.
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
import pytest

from harness.emulator import EmulatorProcess
from harness.emulator.schema import assert_request, assert_response, response_errors
from harness.emulator.server import DEMO_APP_DIR
from tests.integration.api_helpers import ACCEPT, api_client, ok, wait_for
from tests.integration.helpers import trusting

DEMO = "harness-demo"


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    with api_client(emulator) as client:
        yield client


def error(response: httpx.Response, status: int, error_id: str) -> str:
    """The message of an error answer with that status and id (body `{id, message}`)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"id", "message"} and body["id"] == error_id, body
    return str(body["message"])


@pytest.fixture
def forked_app(api: httpx.Client) -> Iterator[dict[str, Any]]:
    """A new app running the demo app's current slug (web=1), deleted afterwards."""
    app = ok(api.post("/apps", json={}), 201)
    try:
        current = api.get(
            f"/apps/{DEMO}/releases", headers={"Range": "version ..; max=1, order=desc"}
        ).json()[0]
        ok(api.post(f"/apps/{app['id']}/releases", json={"slug": current["slug"]["id"]}), 201)
        yield ok(api.get(f"/apps/{app['id']}"))
    finally:
        api.delete(f"/apps/{app['id']}")


def dynos_in(
    api: httpx.Client, app: str, count: int, *, version: int | None = None
) -> list[dict[str, Any]] | None:
    """The app's dynos if there are exactly `count`, all up (on `version` if given); else None."""
    dynos = ok(api.get(f"/apps/{app}/dynos"))
    fits = len(dynos) == count and all(d["state"] == "up" for d in dynos)
    if version is not None:
        fits = fits and all(d["release"]["version"] == version for d in dynos)
    return dynos if fits else None


# -- shapes -----------------------------------------------------------------------------------


def test_read_endpoints_answer_in_heroku_schema(api: httpx.Client) -> None:
    app = ok(api.get(f"/apps/{DEMO}"))
    assert app["web_url"].startswith("https://127.0.0.1:") and app["name"] == DEMO
    assert response_errors("GET", f"/apps/{DEMO}", app, loopback_web_url=False), "the relaxation matters"
    ok(api.get("/account"))
    assert ok(api.get("/account/rate-limits"))["remaining"] > 0
    assert ok(api.get(f"/apps/{app['id']}"))["id"] == app["id"], "an app is found by id as well as name"
    assert DEMO in [a["name"] for a in ok(api.get("/apps"))]
    formation = ok(api.get(f"/apps/{DEMO}/formation"))
    assert [(f["type"], f["quantity"], f["size"]) for f in formation] == [("web", 1, "Standard-1X")]
    ok(api.get(f"/apps/{DEMO}/formation/web"))
    dynos = wait_for("the demo dyno to be up", lambda: dynos_in(api, DEMO, 1))
    ok(api.get(f"/apps/{DEMO}/dynos/{dynos[0]['name']}"))
    ok(api.get(f"/apps/{DEMO}/dynos/{dynos[0]['id']}"))
    releases = ok(api.get(f"/apps/{DEMO}/releases"))
    release = ok(api.get(f"/apps/{DEMO}/releases/{releases[0]['version']}"))
    ok(api.get(f"/apps/{DEMO}/releases/{release['id']}/config-vars"))
    slug = ok(api.get(f"/apps/{DEMO}/slugs/{release['slug']['id']}"))
    assert slug["process_types"] == {"web": "python -m harness.emulator.demo_app"}
    config = ok(api.get(f"/apps/{DEMO}/config-vars"))
    assert not any(key.startswith("DEMO_") for key in config)
    addons = ok(api.get(f"/apps/{DEMO}/addons"))
    assert addons[0]["addon_service"]["name"] == "heroku-postgresql"


def test_dyno_sizes_with_monthly_prices(api: httpx.Client) -> None:
    sizes = {s["name"]: s for s in ok(api.get("/dyno-sizes"))}
    assert sizes["Standard-1X"]["cost"] == {"cents": 2500, "unit": "month"}
    assert sizes["Performance-M"]["cost"]["cents"] == 25000
    assert ok(api.get("/dyno-sizes/standard-2x"))["name"] == "Standard-2X"
    by_id = ok(api.get(f"/dyno-sizes/{sizes['Basic']['id']}"))
    assert by_id["cost"]["cents"] == 700
    ok(api.get(f"/apps/{DEMO}/available-dyno-sizes"))


def test_conventions_request_id_and_rate_limit_headers(api: httpx.Client) -> None:
    mine = api.get("/account", headers={"Request-Id": "abc-123"})
    assert mine.headers["Request-Id"] == "abc-123"
    generated = api.get("/account")
    assert len(generated.headers["Request-Id"]) == 36
    first = int(generated.headers["RateLimit-Remaining"])
    assert int(api.get("/account").headers["RateLimit-Remaining"]) <= first
    free = api.get("/account/rate-limits")
    assert abs(free.json()["remaining"] - int(free.headers["RateLimit-Remaining"])) <= 1
    assert (
        api.get("/account", headers={"Accept": "application/vnd.heroku+json; version=3.sdk"}).status_code
        == 200
    )


# -- errors ------------------------------------------------------------------------------------


def test_error_bodies_and_statuses(api: httpx.Client, emulator: EmulatorProcess) -> None:
    error(httpx.get(f"{emulator.api_url}/account", headers={"Accept": ACCEPT}), 401, "unauthorized")
    wrong = {"Authorization": "Bearer not-the-token", "Accept": ACCEPT}
    error(httpx.get(f"{emulator.api_url}/account", headers=wrong), 401, "unauthorized")
    error(api.get("/account", headers={"Accept": "application/json"}), 406, "not_acceptable")
    assert error(api.get("/apps/no-such-app"), 404, "not_found") == "Couldn't find that app."
    error(api.get("/no/such/endpoint"), 404, "not_found")
    error(api.get("/apps", headers={"Range": "colour ..; max=2"}), 416, "requested_range_not_satisfiable")
    error(api.get("/apps", headers={"Range": "name ..; max=5000"}), 416, "requested_range_not_satisfiable")
    error(api.post("/apps", json={"name": "Bad_Name"}), 422, "invalid_params")
    assert error(api.post("/apps", json={"name": DEMO}), 422, "invalid_params") == "Name is already taken"
    error(api.post("/apps", content=b"{not json"), 400, "bad_request")


def test_formation_validation(api: httpx.Client) -> None:
    message = error(api.patch(f"/apps/{DEMO}/formation/web", json={"size": "huge-9x"}), 422, "invalid_params")
    assert message.startswith("No such size as huge-9x. Available dyno sizes are Eco, Basic, Standard-1X")
    eco = api.patch(
        f"/apps/{DEMO}/formation", json={"updates": [{"type": "web", "quantity": 2, "size": "eco"}]}
    )
    assert "more than 1 Eco" in error(eco, 422, "invalid_params")
    worker = api.patch(f"/apps/{DEMO}/formation", json={"updates": [{"type": "worker", "quantity": 1}]})
    assert "worker" in error(worker, 422, "invalid_params")
    error(api.patch(f"/apps/{DEMO}/formation/web", json={"quantity": "-5"}), 422, "invalid_params")
    assert ok(api.get(f"/apps/{DEMO}/formation/web"))["quantity"] == 1, "refused updates change nothing"


def test_429_once_the_bucket_is_empty(api: httpx.Client, emulator: EmulatorProcess) -> None:
    try:
        emulator.drain_rate_limit(2)
        assert api.get("/account").status_code == 200
        assert api.get("/account").status_code == 200
        refused = api.get("/account")
        error(refused, 429, "rate_limit")
        assert refused.headers["RateLimit-Remaining"] == "0"
        assert ok(api.get("/account/rate-limits"))["remaining"] == 0, "rate-limits is not charged"
    finally:
        emulator.drain_rate_limit(4500)


# -- pagination --------------------------------------------------------------------------------


def test_pagination_across_pages(api: httpx.Client) -> None:
    created = [ok(api.post("/apps", json={"name": f"page-test-{i}"}), 201) for i in range(4)]
    try:
        names, pages, header = [], 0, "name ..; max=2"
        while header:
            response = api.get("/apps", headers={"Range": header})
            assert response.status_code in (200, 206)
            ok(response, response.status_code)
            names += [a["name"] for a in response.json()]
            assert len(response.json()) <= 2 and response.headers["Content-Range"].startswith("name ")
            header = response.headers.get("Next-Range", "")
            assert (response.status_code == 206) == bool(header)
            pages += 1
        assert pages >= 3
        assert names == sorted(names) and len(names) == len(set(names))
        assert {a["name"] for a in created} <= set(names) and DEMO in names
        newest = api.get(f"/apps/{DEMO}/releases", headers={"Range": "version ..; max=1, order=desc"})
        assert newest.json()[0]["current"] is True
    finally:
        for app in created:
            api.delete(f"/apps/{app['id']}")


# -- scaling, releases, rollback -----------------------------------------------------------------


def test_scaling_web_1_3_0_with_dynos_up(
    api: httpx.Client, emulator: EmulatorProcess, forked_app: Any
) -> None:
    app = forked_app["name"]
    assert forked_app["web_url"] and forked_app["web_url"] != emulator.web_url(DEMO)
    wait_for("web=1 up", lambda: dynos_in(api, app, 1))
    scaled = ok(api.patch(f"/apps/{app}/formation", json={"updates": [{"type": "web", "quantity": "+2"}]}))
    assert scaled[0]["quantity"] == 3
    three = wait_for("web=3 up", lambda: dynos_in(api, app, 3))
    assert sorted(d["name"] for d in three) == ["web.1", "web.2", "web.3"]
    pids = [p["pid"] for p in emulator.processes(app)]
    sized = ok(
        api.patch(f"/apps/{app}/formation/web", json={"quantity": 0, "dyno_size": {"name": "standard-2X"}})
    )
    assert (sized["quantity"], sized["size"], sized["dyno_size"]["name"]) == (0, "Standard-2X", "Standard-2X")
    wait_for("web=0", lambda: ok(api.get(f"/apps/{app}/dynos")) == [])
    assert (
        wait_for("dyno processes to end", lambda: not any(_alive(pid) for pid in pids) or None, 15.0) is True
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().split(") ")[-1][:1] != "Z"


def test_config_change_makes_a_release_and_restarts_dynos(api: httpx.Client, forked_app: Any) -> None:
    app = forked_app["name"]
    before = wait_for("web=1 up", lambda: dynos_in(api, app, 1))
    config = ok(api.patch(f"/apps/{app}/config-vars", json={"DEMO_SLOWDOWN": "2"}))
    assert config["DEMO_SLOWDOWN"] == "2"
    release = ok(api.get(f"/apps/{app}/releases", headers={"Range": "version ..; max=1, order=desc"}))[0]
    assert release["description"] == "Set DEMO_SLOWDOWN config vars" and release["current"]
    assert ok(api.get(f"/apps/{app}/releases/{release['version']}/config-vars"))["DEMO_SLOWDOWN"] == "2"
    after = wait_for(
        "a dyno up on the new release", lambda: dynos_in(api, app, 1, version=release["version"])
    )
    assert after[0]["id"] != before[0]["id"], "the dyno was replaced"
    removed = ok(api.patch(f"/apps/{app}/config-vars", json={"DEMO_SLOWDOWN": None}))
    assert "DEMO_SLOWDOWN" not in removed


def test_rollback_creates_a_new_version_with_the_target_config(api: httpx.Client, forked_app: Any) -> None:
    app = forked_app["name"]
    releases = ok(api.get(f"/apps/{app}/releases"))
    target = releases[-1]
    ok(api.patch(f"/apps/{app}/config-vars", json={"DEMO_SLOTS": "9"}))
    rolled = ok(api.post(f"/apps/{app}/releases", json={"release": target["id"]}), 201)
    assert rolled["version"] == target["version"] + 2 and rolled["current"]
    assert rolled["slug"] == target["slug"] and rolled["description"] == f"Rollback to v{target['version']}"
    target_config = ok(api.get(f"/apps/{app}/releases/{target['id']}/config-vars"))
    assert ok(api.get(f"/apps/{app}/releases/{rolled['version']}/config-vars")) == target_config
    assert ok(api.get(f"/apps/{app}/config-vars")) == target_config
    wait_for("dynos on the rollback release", lambda: dynos_in(api, app, 1, version=rolled["version"]))


def test_restarts_answer_202_and_replace_dynos(api: httpx.Client, forked_app: Any) -> None:
    app = forked_app["name"]
    first = wait_for("web=1 up", lambda: dynos_in(api, app, 1))[0]
    for path in (f"/apps/{app}/dynos/web.1", f"/apps/{app}/formations/web", f"/apps/{app}/dynos"):
        response = api.delete(path)
        assert (response.status_code, response.json()) == (202, {})
        assert_response("DELETE", path, response.json())
    wait_for("a new web.1", lambda: (d := dynos_in(api, app, 1)) and d[0]["id"] != first["id"])
    error(api.delete(f"/apps/{app}/dynos/web.9"), 404, "not_found")


def test_maintenance_toggles(api: httpx.Client, emulator: EmulatorProcess, forked_app: Any) -> None:
    app = forked_app["name"]
    assert ok(api.patch(f"/apps/{app}", json={"maintenance": True}))["maintenance"] is True
    wait_for("web=1 up", lambda: dynos_in(api, app, 1))
    assert httpx.get(forked_app["web_url"], timeout=10, verify=trusting(emulator)).status_code == 503
    assert ok(api.patch(f"/apps/{app}", json={"maintenance": False}))["maintenance"] is False
    assert httpx.get(forked_app["web_url"], timeout=10, verify=trusting(emulator)).status_code == 200


# -- log sessions -------------------------------------------------------------------------------


def test_log_session_backlog_as_plain_lines_and_sse(api: httpx.Client) -> None:
    wait_for("the demo dyno up", lambda: dynos_in(api, DEMO, 1))
    body = {"dyno": "web.1", "lines": 5, "source": "heroku", "tail": False}
    session = ok(api.post(f"/apps/{DEMO}/log-sessions", json=body), 201)
    assert session["logplex_url"].startswith("http://127.0.0.1:")
    plain = httpx.get(session["logplex_url"], timeout=10).text.splitlines()
    assert 0 < len(plain) <= 5 and all(" heroku[web.1]: " in line for line in plain)
    everything = ok(api.post(f"/apps/{DEMO}/log-sessions", json={"dyno_name": "web", "lines": 50}), 201)
    sse = httpx.get(everything["logplex_url"], headers={"Accept": "text/event-stream"}, timeout=10)
    assert sse.headers["Content-Type"].startswith("text/event-stream")
    events = [e for e in sse.text.split("\n\n") if e]
    assert events[0].startswith("id: 1\ndata: ") and all(
        e.split("\n")[1].startswith("data: ") for e in events
    )


def test_log_session_tail_streams_new_lines(api: httpx.Client, forked_app: Any) -> None:
    app = forked_app["name"]
    wait_for("web=1 up", lambda: dynos_in(api, app, 1))
    session = ok(
        api.post(f"/apps/{app}/log-sessions", json={"lines": 0, "source": "heroku", "tail": True}), 201
    )
    seen: list[str] = []
    with httpx.stream("GET", session["logplex_url"], timeout=30) as stream:
        ok(api.patch(f"/apps/{app}/formation/web", json={"quantity": 2}))
        for line in stream.iter_lines():
            seen.append(line)
            if "heroku[web.2]: State changed from starting to up" in line:
                break
    assert any("heroku[api]: Scaled to web@2:Standard-1X" in line for line in seen)


# -- fault injection --------------------------------------------------------------------------------


def test_injected_failures_then_recovery(api: httpx.Client, emulator: EmulatorProcess) -> None:
    emulator.fail_next(2, 503)
    assert [api.get("/account").status_code for _ in range(3)] == [503, 503, 200]
    emulator.fail_next(1, 500, method="PATCH", path=f"/apps/{DEMO}/formation")
    assert api.get(f"/apps/{DEMO}/formation").status_code == 200, "GET does not match the PATCH fault"
    error(api.patch(f"/apps/{DEMO}/formation", json={"updates": []}), 500, "internal_server_error")
    emulator.fail_next(1, 429)
    refused = api.get("/account")
    assert refused.status_code == 429 and refused.headers["RateLimit-Remaining"] == "0"
    assert api.get("/account").status_code == 200


def test_freeze_holds_requests_until_cleared(api: httpx.Client, emulator: EmulatorProcess) -> None:
    try:
        emulator.freeze(30)
        with pytest.raises(httpx.ReadTimeout):
            api.get("/account", timeout=0.5)
    finally:
        emulator.clear_faults()
    assert api.get("/account").status_code == 200


def test_crash_and_failed_boots(api: httpx.Client, emulator: EmulatorProcess, forked_app: Any) -> None:
    app = forked_app["name"]
    wait_for("web=1 up", lambda: dynos_in(api, app, 1))
    pid = emulator.processes(app)[0]["pid"]
    emulator.crash_dyno(app, "web.1")
    wait_for("web.1 restarted after the crash", lambda: (p := emulator.processes(app)) and p[0]["pid"] != pid)
    emulator.fail_next_boots(app, 1)
    api.delete(f"/apps/{app}/dynos")
    wait_for("web.1 up again after a failed boot", lambda: dynos_in(api, app, 1))
    session = ok(api.post(f"/apps/{app}/log-sessions", json={"lines": 500, "source": "heroku"}), 201)
    logs = httpx.get(session["logplex_url"], timeout=10).text
    assert "Process exited with status 137" in logs, "the crash (SIGKILL)"
    assert "Process exited with status 1" in logs, "the failed boot"
    settings = emulator.set_settings(app, boot_delay_s=0.2, router_timeout_s=3)
    assert (settings["boot_delay_s"], settings["router_timeout_s"]) == (0.2, 3)
    with pytest.raises(Exception, match="Unknown runtime settings"):
        emulator.set_settings(app, warp_speed=9)


def test_request_journal_keeps_bodies_and_drops_secrets(
    api: httpx.Client, emulator: EmulatorProcess, forked_app: Any
) -> None:
    start = emulator.requests()[-1]["seq"]
    body = {"updates": [{"type": "web", "quantity": 1, "dyno_size": {"name": "Standard-1X"}}]}
    ok(api.patch(f"/apps/{DEMO}/formation", json=body))
    entries = emulator.requests(since=start)
    patch = next(e for e in entries if e["method"] == "PATCH")
    assert patch["path"] == f"/apps/{DEMO}/formation" and patch["body"] == body and patch["status"] == 200
    assert "authorization" not in {h.lower() for h in patch["headers"]}
    assert emulator.token not in str(entries)
    assert_request(patch["method"], patch["path"], patch["body"])

    forked = forked_app["name"]
    ok(api.patch(f"/apps/{forked}/config-vars", json={"DEMO_SECRET_TOKEN": "hunter2", "NOT_SET": None}))
    config_patch = [e for e in emulator.requests(since=start) if e["path"].endswith("/config-vars")][-1]
    assert config_patch["body"] == {"DEMO_SECRET_TOKEN": "[secure]", "NOT_SET": None}
    assert "hunter2" not in str(emulator.requests())


# -- the process ------------------------------------------------------------------------------------


TINY_APP = """
import os
import signal
from wsgiref.simple_server import make_server

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("tiny " + os.environ["DYNO"]).encode()]

make_server("127.0.0.1", int(os.environ["PORT"]), app).serve_forever()
"""


def test_named_apps_run_and_stop_leaves_no_processes(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: python tiny.py\n")
    (tmp_path / "tiny.py").write_text(TINY_APP)
    emulator = EmulatorProcess.start({DEMO: DEMO_APP_DIR, "tiny": tmp_path}, shutdown_grace_s=2.0)
    pids: list[int] = []
    try:
        headers = {"Authorization": f"Bearer {emulator.token}", "Accept": ACCEPT}
        with httpx.Client(base_url=emulator.api_url, headers=headers, timeout=30) as api:
            assert sorted(a["name"] for a in ok(api.get("/apps"))) == [DEMO, "tiny"]
            assert ok(api.get("/apps/tiny/addons")) == [], "only the demo app lists an add-on"
            ok(api.patch(f"/apps/{DEMO}/formation/web", json={"quantity": 2}))
            wait_for("web=2 up", lambda: dynos_in(api, DEMO, 2))
            wait_for("tiny web=1 up", lambda: dynos_in(api, "tiny", 1))
        assert httpx.get(emulator.web_url("tiny"), timeout=10, verify=trusting(emulator)).text == "tiny web.1"
        pids += [p["pid"] for app in (DEMO, "tiny") for p in emulator.processes(app)] + [emulator.pid]
        assert repr(emulator).endswith("token=[secure]>") and emulator.token not in repr(emulator)
    finally:
        status = emulator.stop()
    assert status == 0, "SIGTERM is a clean exit"
    assert not any(_alive(pid) for pid in pids)


ORPHANING_PARENT = """
import json, sys, time
from harness.emulator import EmulatorProcess
emulator = EmulatorProcess.start(shutdown_grace_s=2.0)
deadline = time.monotonic() + 30
while not emulator.processes("harness-demo") and time.monotonic() < deadline:
    time.sleep(0.1)
pids = [p["pid"] for p in emulator.processes("harness-demo")]
print(json.dumps({"emulator": emulator.pid, "dynos": pids}), flush=True)
time.sleep(120)
"""


def test_an_orphaned_emulator_stops_itself_and_its_dynos() -> None:
    parent = subprocess.Popen([sys.executable, "-c", ORPHANING_PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        started = json.loads(parent.stdout.readline())
    finally:
        parent.kill()
        parent.wait()
    assert started["dynos"], "the demo dyno was running"
    pids = [started["emulator"], *started["dynos"]]
    assert wait_for(
        "the orphaned emulator and its dynos to exit", lambda: not any(_alive(p) for p in pids) or None
    )


def test_serve_prints_a_generated_token_once_and_ctrl_c_exits_0(tmp_path: Path) -> None:
    ready, output = tmp_path / "ready.json", tmp_path / "out.txt"
    command = [
        sys.executable,
        "-m",
        "harness.emulator",
        "serve",
        "--ready-file",
        str(ready),
        "--exit-with-parent",
    ]
    with output.open("wb") as sink:
        serve = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    try:
        info = wait_for("the ready file", lambda: ready.exists() and json.loads(ready.read_text()))
        assert info["pid"] == serve.pid and DEMO in info["apps"]
        assert oct(ready.stat().st_mode & 0o777) == "0o600", "the ready file holds the token"
        headers = {"Authorization": f"Bearer {info['token']}", "Accept": ACCEPT}
        session = httpx.post(
            f"{info['api_url']}/apps/{DEMO}/log-sessions", json={"tail": True}, headers=headers
        )
        with httpx.stream("GET", session.json()["logplex_url"], timeout=30) as tail:
            serve.send_signal(signal.SIGINT)
            tailed = list(tail.iter_lines())
        assert serve.wait(timeout=30) == 0
        assert any("Stopping all processes with SIGTERM" in line for line in tailed), (
            "a tail ends with the server"
        )
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    printed = output.read_text()
    assert printed.count(info["token"]) == 1 and "loopback-only dev token" in printed
    assert info["api_url"] in printed and info["apps"][DEMO]["web_url"] in printed
    assert not ready.exists(), "removed on the way out"
