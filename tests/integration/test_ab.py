"""`harness ab` against the emulator: releases interleaved ABBA on one scale-up, put back after anything."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx

from harness.emulator import EmulatorProcess
from tests.harness_process import HarnessProcess
from tests.integration.run_helpers import ACCEPT, events, harness_env, run_dirs, write_profile


def _api(emulator: EmulatorProcess, method: str, path: str, body: object = None) -> object:
    headers = {"Accept": ACCEPT, "Authorization": f"Bearer {emulator.token}"}
    response = httpx.request(method, f"{emulator.api_url}{path}", headers=headers, json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def _slower_release(emulator: EmulatorProcess) -> None:
    """v2: the same slug with DEMO_SLOWDOWN, about 15 % less capacity (a config-var release)."""
    _api(emulator, "PATCH", "/apps/harness-demo/config-vars", {"DEMO_SLOWDOWN": "1.18"})


def _current(emulator: EmulatorProcess) -> tuple[str | None, dict[str, object]]:
    releases = _api(emulator, "GET", "/apps/harness-demo/releases")
    assert isinstance(releases, list)
    current = max((r for r in releases if r.get("current")), key=lambda r: r["version"])
    config = _api(emulator, "GET", "/apps/harness-demo/config-vars")
    assert isinstance(config, dict)
    return current["slug"]["id"] if current.get("slug") else None, config


def test_ab_interleaves_and_puts_the_release_back(
    tmp_path: Path,
    harness_runs: list[HarnessProcess],
    outside_emulator: EmulatorProcess,
) -> None:
    slug_before, _ = _current(outside_emulator)
    _slower_release(outside_emulator)
    env = harness_env(
        tmp_path, HEROKU_API_URL=outside_emulator.api_url, HEROKU_API_KEY=outside_emulator.token
    )
    scenarios = write_profile(tmp_path, hold_s=2)
    args = ["ab", "peak", "--base", "v1", "--new", "v2", "--repeat", "2", "--scenarios", str(scenarios)]
    run = HarnessProcess(args, cwd=tmp_path, env=env)
    harness_runs.append(run)
    assert run.wait(timeout_s=400) == 5, run.output  # 2 + 2 repeats: a warning, no verdict
    assert "no verdict with 2 + 2 repeats" in run.output
    dirs = run_dirs(tmp_path)
    records = sorted((json.loads((d / "run.json").read_text()) for d in dirs), key=lambda r: r["started_at"])
    by_start = sorted(records, key=lambda r: (r["started_at"], r["run_id"]))
    assert [r["label"] for r in by_start] == ["v1", "v2", "v2", "v1"]  # ABBA
    assert len({r["series_id"] for r in records}) == 2
    assert sum(e["event"] == "scale_requested" for d in dirs for e in events(d)) == 1
    slug_after, config_after = _current(outside_emulator)
    assert slug_after == slug_before and config_after.get("DEMO_SLOWDOWN") == "1.18"  # v2 was current
    assert not (tmp_path / "state" / "release-journals" / "harness-demo.json").exists()
    assert outside_emulator.token not in run.output


def test_kill_9_during_ab_then_restore_puts_the_release_back(
    tmp_path: Path,
    harness_runs: list[HarnessProcess],
    outside_emulator: EmulatorProcess,
) -> None:
    _slower_release(outside_emulator)  # v2 current: the A/B switches to v1 first
    env = harness_env(
        tmp_path, HEROKU_API_URL=outside_emulator.api_url, HEROKU_API_KEY=outside_emulator.token
    )
    scenarios = write_profile(tmp_path, hold_s=30)
    args = ["ab", "peak", "--base", "v1", "--new", "v2", "--repeat", "2", "--scenarios", str(scenarios)]
    run = HarnessProcess(args, cwd=tmp_path, env=env)
    harness_runs.append(run)
    run.expect("== load", timeout_s=180)
    run.send(signal.SIGKILL)
    run.wait(timeout_s=30)
    assert _current(outside_emulator)[1].get("DEMO_SLOWDOWN") is None  # left on v1's config by the crash
    assert (tmp_path / "state" / "release-journals" / "harness-demo.json").exists()
    restore = HarnessProcess(["restore", "--app", "harness-demo"], cwd=tmp_path, env=env)
    harness_runs.append(restore)
    assert restore.wait(timeout_s=180) == 0, restore.output
    assert "restored harness-demo to the slug and config of v2" in restore.output
    assert _current(outside_emulator)[1].get("DEMO_SLOWDOWN") == "1.18"
    assert not (tmp_path / "state" / "release-journals" / "harness-demo.json").exists()
    assert not (tmp_path / "state" / "journals" / "harness-demo.json").exists()
