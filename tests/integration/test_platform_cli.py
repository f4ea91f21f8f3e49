"""`harness scale / restore / status` against the emulator: signals, kill -9, failed restores, guards,
and the token never showing up anywhere.

Signal and kill -9 tests drive `python -m harness scale` as a real subprocess (as a user would, with
the gevent patch of the real entry point); the rest use click's CliRunner in this process.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness.cli.app import cli
from harness.emulator import EmulatorProcess
from harness.platform.auth import ApiToken
from harness.platform.formation import PollPolicy, begin, scale_to, snapshot
from harness.platform.heroku import HerokuClient
from harness.platform.journal import JournalStore
from harness.platform.models import Formation, ProcessFormation, parse_scale_args
from tests.harness_process import HarnessProcess

APP = "two-types"
BASE = Formation.of(
    [
        ProcessFormation(type="web", quantity=1, size="Standard-1X"),
        ProcessFormation(type="worker", quantity=1, size="Standard-2X"),
    ]
)
FAST_POLL = PollPolicy(initial_s=0.1, max_s=0.5)
EXPECT_TIMEOUT_S = 90.0  # the CLI imports Locust and pandas: seconds on a busy 2-core machine


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    app_dir = tmp_path_factory.mktemp("app")
    (app_dir / "Procfile").write_text(
        'web: python -m harness.emulator.demo_app\nworker: python -c "import time; time.sleep(3600)"\n'
    )
    token = f"tok-{uuid.uuid4().hex}"  # distinctive, so a leak anywhere is found by grep
    process = EmulatorProcess.start(
        apps={APP: app_dir}, token=token, boot_timeout_s=60.0, shutdown_grace_s=1.0, router_boot_wait_s=2.0
    )
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def client(emulator: EmulatorProcess) -> Iterator[HerokuClient]:
    with HerokuClient(ApiToken(emulator.token), emulator.api_url) as api:
        scale_to(api, APP, BASE, timeout_s=60, poll=FAST_POLL)
        yield api
    emulator.clear_faults()
    emulator.set_settings(APP, boot_delay_s=0)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def env(emulator: EmulatorProcess, state_dir: Path) -> dict[str, str]:
    return {
        "HEROKU_API_URL": emulator.api_url,
        "HEROKU_API_KEY": emulator.token,
        "HARNESS_STATE_DIR": str(state_dir),
    }


def invoke(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


@pytest.fixture
def scaling(
    emulator: EmulatorProcess, client: HerokuClient, env: dict[str, str], tmp_path: Path
) -> Iterator[HarnessProcess]:
    """`harness scale` stuck in its wait: new dynos take 30 s to boot."""
    emulator.set_settings(APP, boot_delay_s=30)
    args = ["scale", "--app", APP, "web=3", "worker=2", "--timeout", "120"]
    process = HarnessProcess(args, cwd=tmp_path, env={**os.environ, **env})
    try:
        process.expect("waiting:", EXPECT_TIMEOUT_S)
        yield process
    finally:
        process.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_during_the_wait_restores(
    emulator: EmulatorProcess, client: HerokuClient, scaling: HarnessProcess, state_dir: Path, signum: int
) -> None:
    assert JournalStore(state_dir).read(APP) is not None
    assert snapshot(client, APP) != BASE
    if signum == signal.SIGINT:
        emulator.fail_next(3, 503, method="PATCH")  # a slower restore, so the second Ctrl-C lands in it
    scaling.send(signum)
    if signum == signal.SIGINT:
        time.sleep(0.3)
        scaling.send(signum)
    assert scaling.wait(60) == 128 + signum
    assert f"interrupted by {signal.Signals(signum).name}" in scaling.output
    assert "was restored to web=1:Standard-1X worker=1:Standard-2X" in scaling.output
    assert "Traceback" not in scaling.output
    assert JournalStore(state_dir).read(APP) is None
    assert snapshot(client, APP) == BASE


def test_kill_9_then_harness_restore(
    client: HerokuClient, scaling: HarnessProcess, state_dir: Path, env: dict[str, str]
) -> None:
    scaling.send(signal.SIGKILL)
    assert scaling.wait(60) == -signal.SIGKILL
    journal = JournalStore(state_dir).read(APP)
    assert journal is not None and journal.original == BASE
    assert snapshot(client, APP) == journal.intended  # left scaled: only the journal knows better
    refused = invoke(["scale", "--app", APP, "web=2"], env)
    assert refused.exit_code == 3
    assert f"harness restore --app {APP}" in refused.output
    result = invoke(["restore"], env)
    assert result.exit_code == 0, result.output
    assert f"restored {APP} to web=1:Standard-1X worker=1:Standard-2X" in result.output
    assert snapshot(client, APP) == BASE
    assert JournalStore(state_dir).read(APP) is None


def test_a_restore_that_cannot_finish_exits_4_with_the_manual_commands(
    emulator: EmulatorProcess, client: HerokuClient, env: dict[str, str], state_dir: Path
) -> None:
    store = JournalStore(state_dir)
    journal = begin(client, APP, parse_scale_args(["web=2:standard-2x", "worker=0"]), store)
    client.update_formation(APP, journal.intended)
    emulator.fail_next(1000, 503)
    impatient = {
        **env,
        "HARNESS_RESTORE_BUDGET_S": "1",
        "HARNESS_API_MAX_ATTEMPTS": "2",
        "HARNESS_API_BACKOFF_S": "0.05",
    }
    result = invoke(["restore", "--app", APP], impatient)
    assert result.exit_code == 4
    assert f"heroku ps:scale web=1 worker=1 -a {APP}" in result.output
    assert f"heroku ps:type web=standard-1x worker=standard-2x -a {APP}" in result.output
    assert store.read(APP) == journal
    emulator.clear_faults()
    again = invoke(["restore", "--app", APP], env)
    assert again.exit_code == 0, again.output
    assert snapshot(client, APP) == BASE
    assert store.read(APP) is None


def test_cost_and_protection_guards_refuse_before_any_change(
    emulator: EmulatorProcess, client: HerokuClient, env: dict[str, str], state_dir: Path
) -> None:
    since = max((e["seq"] for e in emulator.requests()), default=0)
    costly = invoke(["scale", "--app", APP, "web=8:performance-l"], env)
    assert costly.exit_code == 2
    assert "max_cost_per_hour_usd" in costly.output and "--yes" in costly.output
    too_many = invoke(["scale", "--app", APP, "web=11"], env)
    assert too_many.exit_code == 2
    assert "max_dynos_per_type" in too_many.output
    protected = invoke(["scale", "--app", APP, "--protect", APP, "web=2"], env)
    assert protected.exit_code == 2
    assert "protected" in protected.output
    assert not [e for e in emulator.requests(since) if e["method"] != "GET"]
    assert snapshot(client, APP) == BASE
    assert JournalStore(state_dir).apps() == []


def test_the_token_never_appears_in_any_output(
    emulator: EmulatorProcess,
    client: HerokuClient,
    env: dict[str, str],
    state_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="harness")
    wrong = f"wrong-{uuid.uuid4().hex}"
    outputs: list[str] = []
    scaled = invoke(["scale", "--app", APP, "web=2", "--json"], env)
    assert scaled.exit_code == 0, scaled.output
    outputs.append(scaled.output)
    outputs += [p.read_text() for p in state_dir.rglob("*") if p.is_file()]  # the journal while scaled
    for args in (["status", "--app", APP], ["status", "--app", APP, "--json"], ["restore", "--app", APP]):
        result = invoke(args, env)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    status = outputs[-3]
    assert "formation  web=2:Standard-1X worker=1:Standard-2X" in status
    assert "journal    scaled by harness" in status
    failing = [
        invoke(["status", "--app", "no-such-app"], env),
        invoke(["status", "--app", APP], {**env, "HEROKU_API_KEY": wrong}),
        invoke(["scale", "--app", APP, "web=8:performance-l"], env),
    ]
    assert [r.exit_code for r in failing] == [3, 3, 2]
    outputs += [r.output for r in failing]
    outputs.append(caplog.text)
    assert caplog.records, "the client logs its requests at DEBUG"
    everything = "\n".join(outputs)
    assert emulator.token not in everything
    assert wrong not in everything
    assert "Authorization: [secure]" in caplog.text or "'[secure]'" in caplog.text
    assert snapshot(client, APP) == BASE
