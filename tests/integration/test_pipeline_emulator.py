"""The pipeline's own emulator: started with the target's config vars, and gone afterwards."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import psutil

from harness.config import parse_config
from harness.platform.target import open_platform
from tests.integration.helpers import REPO

CONFIG = f"""
target:
  app: harness-demo
  platform: emulator
  formations: [{{quantity: 1}}]
  emulator:
    config_vars: {{DEMO_SLOWDOWN: "2"}}
locustfiles:
  search: {{path: {REPO}/locustfiles/search_only.py}}
expected_peak: {{rps: 10}}
scenarios:
  - {{name: peak, kind: load, level: {{rps: 10}}, hold_s: 1}}
"""


def test_embedded_emulator_applies_config_vars_and_stops_with_its_dynos(tmp_path: Path) -> None:
    config = parse_config(CONFIG, source=tmp_path / "scenarios.yaml")
    said: list[str] = []
    with open_platform(config, progress=said.append) as platform:
        client, emulator = platform.client, platform.emulator
        assert emulator is not None and platform.local and platform.started_here
        release = client.current_release("harness-demo")
        assert release is not None and release.version == 2  # the config-var change made a release
        assert "DEMO_SLOWDOWN" in client.config_var_names("harness-demo")
        web_url = client.app("harness-demo").web_url
        assert web_url is not None
        model = None
        for _ in range(100):  # the restarted dyno boots on the new release
            try:
                model = httpx.get(web_url + "api/capacity", timeout=5, verify=platform.tls_verify()).json()
                if model["service_ms"]["search"] == 80.0:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        assert model is not None and model["service_ms"]["search"] == 80.0
        pid = emulator.pid
        dyno_pids = [p["pid"] for p in emulator.processes("harness-demo") if p.get("pid")]
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    for dyno_pid in dyno_pids:
        assert not psutil.pid_exists(dyno_pid) or psutil.Process(dyno_pid).status() == psutil.STATUS_ZOMBIE
    assert said[-1] == "emulator stopped"
    assert os.environ.get("HEROKU_API_KEY") is None
