"""Each exit code of the one table, produced for real (4 and 130/143: see test_platform_cli.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness.cli.app import cli
from harness.emulator import EmulatorProcess
from tests.integration.helpers import REPO, plain_http, short_shop_load

APP = "harness-demo"


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args)


@pytest.fixture
def platform_env(emulator: EmulatorProcess, tmp_path: Path) -> EmulatorProcess:
    os.environ.update(
        HEROKU_API_URL=emulator.api_url,
        HEROKU_API_KEY=emulator.token,
        HARNESS_STATE_DIR=str(tmp_path / "state"),
    )
    return emulator


def test_0_the_command_did_its_job() -> None:
    assert invoke(["validate", str(REPO / "scenarios.yaml")]).exit_code == 0


def test_1_an_slo_failed(emulator: EmulatorProcess, tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text(short_shop_load(slo="{p95_ms: 0.001}"))  # no real request is that fast
    result = invoke(
        [
            "load",
            "shop-load",
            "--scenarios",
            str(scenarios),
            "--host",
            plain_http(emulator.web_url(APP)),
            "-q",
        ]
    )
    assert result.exit_code == 1, result.output
    assert "FAIL p95_ms" in result.output


def test_2_refused_before_any_change(platform_env: EmulatorProcess, tmp_path: Path) -> None:
    tabbed = tmp_path / "scenarios.yaml"
    tabbed.write_text("version: 1\ntarget:\n\tapp: x\n")
    assert invoke(["validate", str(tabbed)]).exit_code == 2
    since = max((e["seq"] for e in platform_env.requests()), default=0)
    over = invoke(["scale", "--app", APP, "web=50"])
    assert over.exit_code == 2, over.output
    assert "--yes" in over.output
    assert [e for e in platform_env.requests(since) if e["method"] != "GET"] == []


def test_3_platform_error(platform_env: EmulatorProcess) -> None:
    unknown = invoke(["status", "--app", "no-such-app"])
    assert unknown.exit_code == 3, unknown.output
    del os.environ["HEROKU_API_KEY"], os.environ["HEROKU_API_URL"]
    os.environ["NETRC"] = "/nonexistent/netrc"
    no_token = invoke(["status", "--app", APP])
    assert no_token.exit_code == 3 and "token" in no_token.output.lower()
