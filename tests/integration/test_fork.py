"""`harness fork` / `destroy-fork` against the emulator: a fork passes parity against its source;
a dry run sends nothing; a fork interrupted by SIGINT, SIGTERM or an injected API failure is
finished by running it again, with no duplicate app, add-on or release; destroy-fork refuses an
app harness did not make; and no config var value shows up in any output, journal or log.
"""

from __future__ import annotations

import json
import logging
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from harness.cli.app import cli
from harness.emulator import EmulatorProcess
from harness.emulator.schema import assert_request, assert_response
from harness.platform.fork_journal import ForkJournal, ForkJournalStore
from tests.harness_process import HarnessProcess
from tests.integration.run_helpers import api_client, harness_env, write_profile

PROD = "shop"
NEXT = "shop-next"  # production's code one commit later
SECRET = f"s3cret-{uuid.uuid4().hex}"
LIVE_KEY = f"sk_live_{uuid.uuid4().hex}"
ONLY_PROD = f"prod-only-{uuid.uuid4().hex}"
PROD_CONFIG = {
    "SESSION_SECRET": SECRET,
    "STRIPE_SECRET_KEY": LIVE_KEY,
    "WEB_CONCURRENCY": "4",
    "PROD_ONLY_TOKEN": ONLY_PROD,
}
VALUES = (SECRET, LIVE_KEY, ONLY_PROD)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    app_dir = tmp_path_factory.mktemp("shop")
    (app_dir / "Procfile").write_text(
        'web: python -m harness.emulator.demo_app\nworker: python -c "import time; time.sleep(3600)"\n'
    )
    next_dir = tmp_path_factory.mktemp("shop-next")  # the same app, one commit later
    (next_dir / "Procfile").write_text((app_dir / "Procfile").read_text())
    (next_dir / "CHANGELOG").write_text("one more commit\n")
    process = EmulatorProcess.start(
        apps={PROD: app_dir, NEXT: next_dir},
        boot_timeout_s=60.0,
        shutdown_grace_s=1.0,
        router_boot_wait_s=2.0,
    )
    try:
        with api_client(process) as api:
            for app in (PROD, NEXT):
                api.patch(f"/apps/{app}/config-vars", json=PROD_CONFIG).raise_for_status()
                api.patch(f"/apps/{app}/formation/worker", json={"size": "Standard-2X"}).raise_for_status()
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


def env_of(emulator: EmulatorProcess, tmp_path: Path) -> dict[str, str]:
    return {
        "HEROKU_API_URL": emulator.api_url,
        "HEROKU_API_KEY": emulator.token,
        "HARNESS_STATE_DIR": str(tmp_path / "state"),
    }


def invoke(emulator: EmulatorProcess, tmp_path: Path, args: list[str], **extra_env: str) -> Result:
    env = {**env_of(emulator, tmp_path), **extra_env}
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    assert_no_values(result.output)
    return result


def assert_no_values(text: str, where: str = "output") -> None:
    for value in VALUES:
        assert value not in text, f"a config var value in the {where}"


def assert_clean_state(tmp_path: Path) -> None:
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file():
            assert_no_values(path.read_text(errors="replace"), str(path))


def fork(emulator: EmulatorProcess, tmp_path: Path, name: str, *extra: str, **extra_env: str) -> Result:
    return invoke(emulator, tmp_path, ["fork", "--from", PROD, "--to", name, *extra], **extra_env)


def parity(emulator: EmulatorProcess, tmp_path: Path, name: str) -> dict[str, Any]:
    args = ["parity", "--production", PROD, "--staging", name, "--format", "json", "--compare-values"]
    return dict(json.loads(invoke(emulator, tmp_path, args).output))


def releases_with_slug(api: httpx.Client, app: str) -> list[dict[str, Any]]:
    return [r for r in api.get(f"/apps/{app}/releases").json() if r["description"].startswith("Fork of")]


def app_log(api: httpx.Client, app: str) -> str:
    """The app's log as a log session serves it (API events, router and dyno lines)."""
    session = api.post(f"/apps/{app}/log-sessions", json={"lines": 1500, "tail": False})
    session.raise_for_status()
    return api.get(session.json()["logplex_url"]).text


def test_a_fork_passes_parity_and_leaves_the_source_alone(
    emulator: EmulatorProcess,
    api: httpx.Client,
    fork_name: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = api.get(f"/apps/{PROD}/releases").json()
    since = max((e["seq"] for e in emulator.requests()), default=0)
    caplog.set_level(logging.DEBUG)
    result = fork(emulator, tmp_path, fork_name)
    assert "POST" in caplog.text
    assert_no_values(caplog.text, "harness log")
    for app in (fork_name, PROD):
        assert "config vars" in app_log(api, app) or app == PROD
        assert_no_values(app_log(api, app), f"log of {app}")
    assert result.exit_code == 0, result.output
    report = parity(emulator, tmp_path, fork_name)
    assert report["differences"] == [] and report["passed"] is True
    assert [e["name"] for e in report["side_effects"]] == ["STRIPE_SECRET_KEY"]
    formation = {
        f["type"]: (f["quantity"], f["size"]) for f in api.get(f"/apps/{fork_name}/formation").json()
    }
    assert formation == {"web": (0, "Standard-1X"), "worker": (0, "Standard-2X")}
    assert api.get(f"/apps/{PROD}/releases").json() == before, "the source app is never changed"
    slug_id = before[-1]["slug"]["id"]
    slug = api.get(f"/apps/{fork_name}/slugs/{slug_id}")  # production's slug, released to the fork
    assert slug.status_code == 200 and slug.json()["id"] == slug_id
    assert_response("GET", f"/apps/{fork_name}/slugs/{slug_id}", slug.json())
    writes = [e for e in emulator.requests(since) if e["method"] != "GET" and "log-sessions" not in e["path"]]
    assert writes and all(f"/apps/{PROD}" not in e["path"] for e in writes)
    for entry in emulator.requests(since):
        assert_request(entry["method"], entry["path"], entry["body"])  # the fork's calls fit the schema
    assert_no_values(json.dumps(emulator.requests(since)), "emulator's request journal")
    assert_clean_state(tmp_path)
    again = fork(emulator, tmp_path, fork_name)
    assert again.exit_code == 0 and "finished forking" in again.output
    assert len(releases_with_slug(api, fork_name)) == 1, "a re-run releases nothing twice"


def test_exclusions_and_overrides_show_up_as_differences(
    emulator: EmulatorProcess, api: httpx.Client, fork_name: str, tmp_path: Path
) -> None:
    result = fork(emulator, tmp_path, fork_name, "--exclude", "PROD_ONLY_TOKEN", "--set", "WEB_CONCURRENCY=2")
    assert result.exit_code == 0, result.output
    assert "not copied: config var PROD_ONLY_TOKEN: excluded" in result.output
    api.patch(f"/apps/{fork_name}/formation/worker", json={"size": "Standard-1X"}).raise_for_status()
    report = parity(emulator, tmp_path, fork_name)
    kinds = {(d["aspect"], d["subject"]): d["severity"] for d in report["differences"]}
    assert kinds == {
        ("config var", "PROD_ONLY_TOKEN"): "medium",
        ("config value", "WEB_CONCURRENCY"): "medium",
        ("dyno size", "worker"): "high",
    }


def test_dry_run_prints_every_call_and_sends_none(
    emulator: EmulatorProcess, api: httpx.Client, fork_name: str, tmp_path: Path
) -> None:
    since = max((e["seq"] for e in emulator.requests()), default=0)
    result = fork(emulator, tmp_path, fork_name, "--dry-run")
    assert result.exit_code == 0, result.output
    assert [e for e in emulator.requests(since) if e["method"] != "GET"] == []
    assert api.get(f"/apps/{fork_name}").status_code == 404
    lines = [line for line in result.output.splitlines() if line.startswith("would send: ")]
    verbs = [" ".join(line.split()[2:4]) for line in lines]
    assert verbs == [
        "POST /apps",
        f"PATCH /apps/{fork_name}/config-vars",
        f"PATCH /apps/{fork_name}/config-vars",
        f"POST /apps/{fork_name}/releases",
        f"PATCH /apps/{fork_name}/formation",
    ]
    assert '"SESSION_SECRET": "[secure]"' in result.output
    assert not (tmp_path / "state" / "fork-journals").exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/apps"), ("PATCH", "/config-vars"), ("POST", "/releases"), ("PATCH", "/formation")],
)
def test_an_injected_api_failure_then_a_rerun_completes_without_duplicates(
    emulator: EmulatorProcess, api: httpx.Client, fork_name: str, tmp_path: Path, method: str, path: str
) -> None:
    target = path if path == "/apps" else f"/apps/{fork_name}{path}"
    emulator.fail_next(1, 500, method=method, path=target)
    failed = fork(emulator, tmp_path, fork_name, HARNESS_API_MAX_ATTEMPTS="1")  # PATCH is retried otherwise
    assert failed.exit_code == 3, failed.output
    emulator.clear_faults()
    done = fork(emulator, tmp_path, fork_name)
    assert done.exit_code == 0, done.output
    assert [a["name"] for a in api.get("/apps").json()].count(fork_name) == 1
    assert len(releases_with_slug(api, fork_name)) == 1
    assert parity(emulator, tmp_path, fork_name)["passed"] is True
    assert_clean_state(tmp_path)


@pytest.mark.parametrize(
    ("signum", "frozen"),
    [(signal.SIGINT, "/releases"), (signal.SIGTERM, "/releases"), (signal.SIGTERM, "")],
    ids=["sigint-during-release", "sigterm-during-release", "sigterm-during-create"],
)
def test_a_signal_midway_then_a_rerun_completes_without_duplicates(
    emulator: EmulatorProcess,
    api: httpx.Client,
    fork_name: str,
    tmp_path: Path,
    harness_runs: list[HarnessProcess],
    signum: signal.Signals,
    frozen: str,
) -> None:
    env = harness_env(tmp_path, HEROKU_API_URL=emulator.api_url, HEROKU_API_KEY=emulator.token)
    path = f"/apps/{fork_name}{frozen}" if frozen else "/apps"
    emulator.freeze(120, method="POST", path=path)  # held until clear_faults()
    try:
        run = HarnessProcess(["fork", "--from", PROD, "--to", fork_name], cwd=tmp_path, env=env)
        harness_runs.append(run)
        run.expect(f"POST {path} ", timeout_s=90)
        run.send(signum)
        assert run.wait(timeout_s=60) == 128 + signum, run.output
    finally:
        emulator.clear_faults()
    assert "Run the same command to continue" in run.output
    assert (tmp_path / "state" / "fork-journals" / f"{fork_name}.json").exists()
    time.sleep(1.0)  # a held call the emulator still serves after the freeze has landed by now
    rerun = HarnessProcess(["fork", "--from", PROD, "--to", fork_name], cwd=tmp_path, env=env)
    harness_runs.append(rerun)
    assert rerun.wait(timeout_s=120) == 0, rerun.output
    assert [a["name"] for a in api.get("/apps").json()].count(fork_name) == 1
    assert len(releases_with_slug(api, fork_name)) == 1
    assert_no_values(run.output + rerun.output)
    assert_clean_state(tmp_path)


def test_destroy_fork_deletes_a_fork_and_refuses_anything_else(
    emulator: EmulatorProcess, api: httpx.Client, fork_name: str, tmp_path: Path
) -> None:
    refused = invoke(emulator, tmp_path, ["destroy-fork", "--app", PROD])
    assert refused.exit_code == 2 and "was not made by `harness fork`" in refused.output
    assert api.get(f"/apps/{PROD}").status_code == 200
    api.post("/apps", json={"name": fork_name}).raise_for_status()  # someone else's app of that name
    taken = fork(emulator, tmp_path, fork_name)
    assert taken.exit_code == 2 and "harness did not fork it" in taken.output
    assert invoke(emulator, tmp_path, ["destroy-fork", "--app", fork_name]).exit_code == 2
    api.delete(f"/apps/{fork_name}").raise_for_status()
    assert fork(emulator, tmp_path, fork_name).exit_code == 0
    dry = invoke(emulator, tmp_path, ["destroy-fork", "--app", fork_name, "--dry-run"])
    assert dry.exit_code == 0 and api.get(f"/apps/{fork_name}").status_code == 200
    gone = invoke(emulator, tmp_path, ["destroy-fork", "--app", fork_name])
    assert gone.exit_code == 0 and f"a fork of {PROD}" in gone.output
    assert api.get(f"/apps/{fork_name}").status_code == 404
    assert not (tmp_path / "state" / "fork-journals" / f"{fork_name}.json").exists()


def test_an_app_whose_creation_answer_was_lost_is_adopted_not_refused(
    emulator: EmulatorProcess, api: httpx.Client, fork_name: str, tmp_path: Path
) -> None:
    store = ForkJournalStore(tmp_path / "state")
    store.write(ForkJournal(app=fork_name, source=PROD, api_host="emulator"))  # intent, no answer
    api.post("/apps", json={"name": fork_name}).raise_for_status()  # ... though the app was made
    result = fork(emulator, tmp_path, fork_name)
    assert result.exit_code == 0 and "finished forking" in result.output, result.output
    assert "POST /apps {" not in result.output
    assert parity(emulator, tmp_path, fork_name)["passed"] is True


def test_a_journal_of_a_fork_deleted_since_does_not_skip_any_step(
    emulator: EmulatorProcess, api: httpx.Client, fork_name: str, tmp_path: Path
) -> None:
    stale = ForkJournal(app=fork_name, source=PROD, api_host="emulator", app_id=str(uuid.uuid4()))
    stale.steps_done = ["mark", "addons", "config", "release", "formation", "done"]
    ForkJournalStore(tmp_path / "state").write(stale)
    result = fork(emulator, tmp_path, fork_name)
    assert result.exit_code == 0, result.output
    assert len(releases_with_slug(api, fork_name)) == 1
    assert parity(emulator, tmp_path, fork_name)["passed"] is True


def test_buildpacks_are_copied_and_compared(
    emulator: EmulatorProcess, api: httpx.Client, fork_name: str, tmp_path: Path
) -> None:
    packs = {"updates": [{"buildpack": "heroku/nodejs"}, {"buildpack": "heroku/python"}]}
    listed = api.put(f"/apps/{PROD}/buildpack-installations", json=packs)
    try:
        assert listed.status_code == 200
        assert_response("PUT", f"/apps/{PROD}/buildpack-installations", listed.json())
        result = fork(emulator, tmp_path, fork_name)
        assert result.exit_code == 0 and f"PUT /apps/{fork_name}/buildpack-installations" in result.output
        copied = api.get(f"/apps/{fork_name}/buildpack-installations").json()
        assert [b["buildpack"]["name"] for b in copied] == ["heroku/nodejs", "heroku/python"]
        assert parity(emulator, tmp_path, fork_name)["passed"] is True
        one = {"updates": [{"buildpack": "heroku/python"}]}
        api.put(f"/apps/{fork_name}/buildpack-installations", json=one).raise_for_status()
        [diff] = parity(emulator, tmp_path, fork_name)["differences"]
        assert (diff["aspect"], diff["severity"], diff["staging"]) == (
            "buildpacks",
            "medium",
            "heroku/python",
        )
    finally:
        api.put(f"/apps/{PROD}/buildpack-installations", json={"updates": []}).raise_for_status()


def test_a_protected_app_is_never_a_fork_target(emulator: EmulatorProcess, tmp_path: Path) -> None:
    scenarios = write_profile(tmp_path)
    scenarios.write_text(
        scenarios.read_text().replace(
            "  app: harness-demo\n", "  app: shop-staging\n  production_app: shop\n"
        )
    )
    for target in ("shop-production", "shop"):  # protected_apps, production_app
        args = ["fork", "--from", PROD, "--to", target, "--scenarios", str(scenarios)]
        refused = invoke(emulator, tmp_path, args)
        assert refused.exit_code == 2 and "is a protected app" in refused.output, refused.output


def test_a_fork_of_other_code_differs_by_its_commit(
    emulator: EmulatorProcess, api: httpx.Client, fork_name: str, tmp_path: Path
) -> None:
    result = invoke(emulator, tmp_path, ["fork", "--from", NEXT, "--to", fork_name])
    assert result.exit_code == 0, result.output
    [commit] = parity(emulator, tmp_path, fork_name)["differences"]
    assert (commit["aspect"], commit["severity"]) == ("commit", "high")
    assert commit["production"] != commit["staging"] and "staging runs other code" in commit["effect"]
