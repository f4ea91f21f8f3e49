"""A report from a real short run: Locust against the emulator's demo shop, through the store, rendered.

The load layer runs a 4-second hold at 30 req/s (a fifth of one demo dyno's
capacity) with generous SLOs; the run is written with `RunStore` exactly as
the pipeline does, and the report is rendered from the directory alone. The
checks compare what the report says with what the CSVs hold.
"""

from __future__ import annotations

import json
import os
import re
import socket
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import httpx
import pandas as pd
import pytest

from harness.config import parse_config
from harness.emulator import EmulatorProcess
from harness.engine import run_scenario
from harness.measurements import TOTAL, LevelMode
from harness.report import RenderedReport, render_report
from harness.results import (
    DynoGroup,
    LevelInfo,
    LoadGeneratorInfo,
    PlatformInfo,
    ReleaseInfo,
    RunDir,
    RunMeta,
    RunStatus,
    RunStore,
)
from tests.integration.helpers import short_shop_load

APP = "harness-demo"
SCENARIOS = short_shop_load(app=APP, slo="{p95_ms: 2000, error_ratio: 0.05}")
URL = re.compile(r"https?://[^\s\"'<>]+", re.I)

# Locust stops surplus users mid-request at the end of a run; their keep-alive sockets are closed by the
# garbage collector (as in test_stress.py): Locust's, not a leak of ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket object:pytest.PytestUnraisableExceptionWarning"
)


def latest_release(emulator: EmulatorProcess) -> ReleaseInfo:
    """The app's current release, from the Platform API (as the pipeline's preflight reads it)."""
    response = httpx.get(
        f"{emulator.api_url}/apps/{APP}/releases",
        headers={
            "Authorization": f"Bearer {emulator.token}",
            "Accept": "application/vnd.heroku+json; version=3",
            "Range": "version ..; order=desc, max=1",
        },
        timeout=10,
    )
    response.raise_for_status()
    release = response.json()[0]
    return ReleaseInfo(
        version=release["version"],
        description=release.get("description", ""),
        created_at=release.get("created_at"),
        user=(release.get("user") or {}).get("email"),
    )


@pytest.fixture(scope="module")
def real_run(
    emulator: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> tuple[RunDir, RenderedReport]:
    root = tmp_path_factory.mktemp("real-run")
    config = parse_config(SCENARIOS, source=root / "scenarios.yaml")
    scenario = config.scenario("shop-load")
    app_url = emulator.web_url(APP)
    meta = RunMeta(
        platform=PlatformInfo(kind="emulator", api_host=urlsplit(emulator.api_url).netloc, app_url=app_url),
        release=latest_release(emulator),
        formation_original=[
            DynoGroup(type="web", quantity=1, size="Standard-1X", dyno_cost_per_hour_usd=0.035)
        ],
        formation_tested=[
            DynoGroup(type="web", quantity=1, size="Standard-1X", dyno_cost_per_hour_usd=0.035)
        ],
        expected_peak=LevelInfo(mode=LevelMode.ARRIVAL_RATE, value=30),
        load_generator=LoadGeneratorInfo(workers=0, host=socket.gethostname(), cpu_count=os.cpu_count()),
    )
    with RunStore(root / "reports").create(APP, meta) as run:
        run.event("scenario_started", scenario=scenario.name)
        result = run_scenario(
            config, scenario, host=app_url.rstrip("/"), quiet=True, ca_file=emulator.ca_file
        )
        run.add_scenario(result, config=scenario)
    return RunDir.open(run.path), render_report(run.path)


def judged_total(run: RunDir) -> dict[str, float]:
    rows = run.endpoints
    total = rows[(rows["window"] == "judged") & (rows["name"] == TOTAL)]
    assert len(total) == 1
    values = {k: float(v) for k, v in total.iloc[0][["requests", "p95_ms", "error_ratio", "rps"]].items()}
    judged_p95 = total.iloc[0]["intended_p95_ms"]  # what the SLO judges in arrival-rate mode
    values["judged_p95_ms"] = values["p95_ms"] if pd.isna(judged_p95) else float(judged_p95)
    return values


def test_the_run_directory_holds_the_real_measurements(real_run: tuple[RunDir, RenderedReport]) -> None:
    run, _ = real_run
    assert run.record.status == RunStatus.COMPLETE
    total = judged_total(run)
    assert total["requests"] > 0
    assert 15 <= total["rps"] <= 45  # the pacer asked for 30 req/s
    assert not run.timeseries[run.timeseries["name"] == TOTAL].empty
    assert set(run.steps["kind"]) == {"warmup", "hold"}
    assert [e["event"] for e in run.events][:2] == ["run_started", "scenario_started"]


def test_the_verdict_text_quotes_the_measured_p95(real_run: tuple[RunDir, RenderedReport]) -> None:
    run, rendered = real_run
    p95 = judged_total(run)["judged_p95_ms"]  # the latency the SLO judged (intended start)
    version = run.record.release.version
    expected = (
        f"Release v{version} on 1 × Standard-1X holds the expected peak of 30 req/s with p95 {p95:,.0f} ms"
    )
    assert rendered.summary["verdict"].startswith(expected)
    assert expected in rendered.html.read_text()
    assert "the breaking point was not searched (no stress scenario)" in rendered.summary["verdict"]


def test_the_slo_table_matches_the_csvs(real_run: tuple[RunDir, RenderedReport]) -> None:
    run, rendered = real_run
    html = rendered.html.read_text()
    total = judged_total(run)
    assert f'data-criterion="p95_ms" data-value="{total["judged_p95_ms"]}"' in html
    assert f'data-criterion="error_ratio" data-value="{total["error_ratio"]}"' in html
    summary = json.loads(rendered.summary_json.read_text())
    measured = {c["criterion"]: c["measured"] for c in summary["checks"]}
    assert measured["p95_ms"] == total["judged_p95_ms"]
    assert measured["error_ratio"] == total["error_ratio"]
    judged = run.record.scenarios[0].verdicts
    assert set(measured) == {v.criterion for v in judged}  # every SLO judged is in the table
    table = html[html.index('data-scenario="shop-load"') :]
    rows = run.endpoints[run.endpoints["window"] == "judged"]
    for requests in rows["requests"]:
        assert f'<td class="n">{int(requests):,}</td>' in table


def test_every_chart_is_inline_svg_and_only_the_apps_own_url_appears(
    real_run: tuple[RunDir, RenderedReport],
) -> None:
    run, rendered = real_run
    html = rendered.html.read_text()
    assert html.count('<svg class="chart"') == 6
    app_url = run.record.platform.app_url or ""
    foreign = [u for u in URL.findall(html) if not u.startswith(app_url)]
    assert foreign == []
    junit = ET.parse(rendered.junit_xml).getroot()
    cases = [c.get("name") for c in junit.iter("testcase")]
    assert len(cases) == len(run.record.scenarios[0].verdicts)
    assert {"p95 latency", "error ratio"} <= set(cases)
