"""`harness parity` against the emulator: each introduced difference is reported with its severity,
live payment keys and mail providers are flagged, and no config var value is ever printed.

Production is the demo app (`shop`, with its listed heroku-postgresql add-on and config vars set
here); staging apps are made per test with `POST /apps` and production's slug, as a fork would.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from harness.cli.app import cli
from harness.emulator import EmulatorProcess
from harness.emulator.server import DEMO_APP_DIR
from harness.errors import ParityError
from harness.platform.auth import ApiToken
from harness.platform.heroku import HerokuClient
from harness.platform.parity import compare
from harness.platform.parity_check import ParityMode, ParityPolicy
from harness.platform.profile import read_profile
from harness.platform.side_effects import SideEffect, scan
from tests.harness_process import HarnessProcess
from tests.integration.run_helpers import (
    api_client,
    events,
    harness_env,
    run_dirs,
    web_formation,
    write_profile,
)

PROD = "shop"
# Distinctive values, so a leak anywhere is found by grep.
SECRET = f"s3cret-{uuid.uuid4().hex}"
LIVE_KEY = f"sk_live_{uuid.uuid4().hex}"
PROD_CONFIG = {"SESSION_SECRET": SECRET, "STRIPE_SECRET_KEY": LIVE_KEY, "WEB_CONCURRENCY": "4"}


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    process = EmulatorProcess.start(
        apps={PROD: DEMO_APP_DIR}, boot_timeout_s=60.0, shutdown_grace_s=1.0, router_boot_wait_s=2.0
    )
    try:
        with api_client(process) as api:
            api.patch(f"/apps/{PROD}/config-vars", json=PROD_CONFIG).raise_for_status()
        yield process
    finally:
        process.stop()


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    with api_client(emulator) as client:
        yield client


@pytest.fixture
def staging(api: httpx.Client) -> Iterator[str]:
    """A new app with production's config (less its add-on's vars) and production's slug."""
    name = f"stage-{uuid.uuid4().hex[:8]}"
    api.post("/apps", json={"name": name}).raise_for_status()
    try:
        api.patch(f"/apps/{name}/config-vars", json=PROD_CONFIG).raise_for_status()
        release = api.get(f"/apps/{PROD}/releases", headers={"Range": "version ..; max=1, order=desc"})
        slug = release.json()[0]["slug"]["id"]
        api.post(f"/apps/{name}/releases", json={"slug": slug}).raise_for_status()
        yield name
    finally:
        api.delete(f"/apps/{name}")


def invoke(emulator: EmulatorProcess, args: list[str]) -> Result:
    env = {"HEROKU_API_URL": emulator.api_url, "HEROKU_API_KEY": emulator.token}
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def parity_json(emulator: EmulatorProcess, staging: str, *extra: str) -> tuple[int, dict[str, Any]]:
    result = invoke(
        emulator, ["parity", "--production", PROD, "--staging", staging, "--format", "json", *extra]
    )
    assert SECRET not in result.output and LIVE_KEY not in result.output
    return result.exit_code, json.loads(result.output)


def found(report: dict[str, Any], aspect: str, subject: str) -> dict[str, Any]:
    matches = [d for d in report["differences"] if d["aspect"] == aspect and d["subject"] == subject]
    assert matches, f"no {aspect} {subject} difference in {report['differences']}"
    return matches[0]


def test_a_copy_differs_only_by_its_missing_add_on_and_its_live_key_is_flagged(
    emulator: EmulatorProcess, staging: str
) -> None:
    code, report = parity_json(emulator, staging, "--compare-values")
    missing = found(report, "add-on", "heroku-postgresql")
    assert missing["severity"] == "high" and "heroku-postgresql:essential-0" in missing["production"]
    assert [d["aspect"] for d in report["differences"]] == ["add-on"], "same slug, config, stack, region"
    assert report["values_compared"] is True
    stripe = next(e for e in report["side_effects"] if e["name"] == "STRIPE_SECRET_KEY")
    assert stripe["live"] is True and stripe["severity"] == "high" and stripe["category"] == "payments"
    assert code == 1 and report["passed"] is False


def test_each_introduced_difference_has_its_severity(
    emulator: EmulatorProcess, api: httpx.Client, staging: str
) -> None:
    api.patch(
        f"/apps/{staging}/config-vars",
        json={"WEB_CONCURRENCY": None, "SESSION_SECRET": "another", "SENDGRID_API_KEY": "SG.x"},
    ).raise_for_status()
    api.patch(f"/apps/{staging}/formation/web", json={"size": "Standard-2X"}).raise_for_status()
    _, report = parity_json(emulator, staging, "--compare-values")
    assert found(report, "config var", "WEB_CONCURRENCY")["severity"] == "high"  # concurrency setting
    assert found(report, "config var", "SENDGRID_API_KEY")["severity"] == "low"  # staging only
    assert found(report, "config value", "SESSION_SECRET")["severity"] == "low"
    size = found(report, "dyno size", "web")
    assert (size["severity"], size["production"], size["staging"]) == ("high", "Standard-1X", "Standard-2X")
    assert any(e["name"] == "SENDGRID_API_KEY" and e["category"] == "mail" for e in report["side_effects"])
    _, told = parity_json(emulator, staging, "--process-type", "web")
    assert found(told, "dyno size", "web")["severity"] == "info", "the type the test scales itself"
    assert not any(d["aspect"] == "config value" for d in told["differences"]), "values are opt-in"


def test_another_commit_is_high_and_the_table_explains_it(emulator: EmulatorProcess, staging: str) -> None:
    with HerokuClient(ApiToken(emulator.token), emulator.api_url) as client:
        prod = read_profile(client, PROD)
        stage = read_profile(client, staging).model_copy(update={"commit": "0" * 40})
    commit = next(d for d in compare(prod, stage).differences if d.aspect == "commit")
    assert commit.severity == "high" and commit.staging == "0" * 12
    table = invoke(emulator, ["parity", "--production", PROD, "--staging", staging])
    assert table.exit_code == 1
    assert "heroku-postgresql" in table.output and "results will not transfer" in table.output
    assert "STRIPE_SECRET_KEY (Stripe, live key)" in table.output
    assert SECRET not in table.output and LIVE_KEY not in table.output


def test_a_missing_app_name_is_a_clear_error(emulator: EmulatorProcess) -> None:
    result = invoke(emulator, ["parity", "--staging", "x-app"])
    assert result.exit_code == 2 and "--production" in result.output


def _run_profile(tmp_path: Path, staging: str, parity: str) -> Path:
    path = write_profile(tmp_path, hold_s=1)
    text = path.read_text().replace(
        "  app: harness-demo\n",
        f"  app: {staging}\n  production_app: {PROD}\n  parity: {parity}\n",
    )
    path.write_text(text)
    return path


def test_run_refuses_before_any_change_with_parity_refuse(
    emulator: EmulatorProcess, staging: str, tmp_path: Path, harness_runs: list[HarnessProcess]
) -> None:
    env = harness_env(tmp_path, HEROKU_API_URL=emulator.api_url, HEROKU_API_KEY=emulator.token)
    since = max((e["seq"] for e in emulator.requests()), default=0)
    args = ["run", "peak", "--scenarios", str(_run_profile(tmp_path, staging, "refuse"))]
    run = HarnessProcess(args, cwd=tmp_path, env=env)
    harness_runs.append(run)
    assert run.wait(timeout_s=180) == 2, run.output
    assert "refused by parity: refuse" in run.output and "heroku-postgresql" in run.output
    assert "STRIPE_SECRET_KEY" in run.output
    assert [e for e in emulator.requests(since) if e["method"] != "GET"] == []  # nothing changed
    assert web_formation(emulator, staging) == (1, "Standard-1X")
    assert SECRET not in run.output and LIVE_KEY not in run.output


def test_run_with_parity_warn_says_it_all_before_any_load(
    emulator: EmulatorProcess, staging: str, tmp_path: Path, harness_runs: list[HarnessProcess]
) -> None:
    env = harness_env(tmp_path, HEROKU_API_URL=emulator.api_url, HEROKU_API_KEY=emulator.token)
    args = ["run", "peak", "--scenarios", str(_run_profile(tmp_path, staging, "warn"))]
    run = HarnessProcess(args, cwd=tmp_path, env=env)
    harness_runs.append(run)
    assert run.wait(timeout_s=300) in (0, 1), run.output
    output = run.output
    flagged = output.index("side effect: config var STRIPE_SECRET_KEY")
    assert output.index("high add-on heroku-postgresql") < output.index("== scale") > flagged
    assert web_formation(emulator, staging) == (1, "Standard-1X"), "restored"
    [run_dir] = run_dirs(tmp_path)
    [recorded] = [e for e in events(run_dir) if e["event"] == "parity"]
    assert recorded["passed"] is False and recorded["production"] == PROD
    assert [d["subject"] for d in recorded["differences"]] == ["heroku-postgresql"]  # type: ignore[index]
    assert SECRET not in output and LIVE_KEY not in output
    for path in (tmp_path / "reports").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert SECRET not in text and LIVE_KEY not in text, path


def test_without_a_production_app_side_effects_are_still_called_out(
    emulator: EmulatorProcess, staging: str
) -> None:
    said: list[str] = []
    with HerokuClient(ApiToken(emulator.token), emulator.api_url) as client:
        assert ParityPolicy(mode=ParityMode.WARN).check(client, staging, said.append) is None
        assert said == [f"side effect: {e.describe()}" for e in _effects(client, staging)] and said
        with pytest.raises(ParityError, match="STRIPE_SECRET_KEY"):
            ParityPolicy(mode=ParityMode.REFUSE).check(client, staging, said.append)
        ok = ParityPolicy(mode=ParityMode.REFUSE, side_effects_ok=("STRIPE_SECRET_KEY",))
        assert ok.check(client, staging, said.append) is None, "acknowledged: no refusal"
        off = ParityPolicy(production_app=PROD, mode=ParityMode.OFF)
        assert off.check(client, staging, said.append) is None, "off: no comparison"
    assert not any(SECRET in line or LIVE_KEY in line for line in said)


def _effects(client: HerokuClient, app: str) -> list[SideEffect]:
    profile = read_profile(client, app)
    return scan(
        profile.config_var_names,
        [(a.name, a.service) for a in profile.addons],
        live_key_names=profile.live_key_names,
    )
