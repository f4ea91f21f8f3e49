"""Pipelines in the emulator (schema-checked) and `harness run --promote` through them over loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.emulator import EmulatorProcess
from harness.emulator.schema import assert_response
from tests.harness_process import HarnessProcess
from tests.integration.run_helpers import ACCEPT, harness_env, write_profile

DEMO = "harness-demo"


def _client(emulator: EmulatorProcess) -> httpx.Client:
    headers = {"Authorization": f"Bearer {emulator.token}", "Accept": ACCEPT}
    return httpx.Client(base_url=emulator.api_url, headers=headers, timeout=30.0)


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The body of an answer with `status`, checked against the published schema."""
    assert response.status_code == status, response.text
    body = response.json()
    assert_response(response.request.method, response.request.url.path, body)
    return body


def _settled(api: httpx.Client, promotion_id: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        targets = ok(api.get(f"/pipeline-promotions/{promotion_id}/promotion-targets"))
        if all(t["status"] != "pending" for t in targets):
            return list(targets)
        time.sleep(0.2)
    pytest.fail("the promotion stayed pending for 60 s")


@pytest.fixture
def stages(emulator: EmulatorProcess) -> Iterator[tuple[httpx.Client, dict[str, Any], dict[str, Any]]]:
    """A staging app running the demo slug and a blank production app, in one pipeline."""
    with _client(emulator) as api:
        staging = ok(api.post("/apps", json={}), 201)
        production = ok(api.post("/apps", json={}), 201)
        pipeline = ok(api.post("/pipelines", json={"name": f"shop-{staging['id'][:8]}"}), 201)
        try:
            demo = api.get(f"/apps/{DEMO}/releases", headers={"Range": "version ..; max=1, order=desc"})
            ok(api.post(f"/apps/{staging['id']}/releases", json={"slug": demo.json()[0]["slug"]["id"]}), 201)
            for app, stage in ((staging, "staging"), (production, "production")):
                body = {"app": app["id"], "pipeline": pipeline["id"], "stage": stage}
                ok(api.post("/pipeline-couplings", json=body), 201)
            yield api, staging, production
        finally:
            api.delete(f"/pipelines/{pipeline['id']}")
            api.delete(f"/apps/{staging['id']}")
            api.delete(f"/apps/{production['id']}")


def test_pipeline_couplings_and_promotion_answer_in_heroku_schema(
    stages: tuple[httpx.Client, dict[str, Any], dict[str, Any]],
) -> None:
    api, staging, production = stages
    coupling = ok(api.get(f"/apps/{staging['name']}/pipeline-couplings"))
    assert coupling["stage"] == "staging" and coupling["app"] == {"id": staging["id"]}
    pipeline_id = coupling["pipeline"]["id"]
    listed = ok(api.get(f"/pipelines/{pipeline_id}/pipeline-couplings"))
    assert sorted(c["stage"] for c in listed) == ["production", "staging"]
    ok(api.get(f"/pipelines/{pipeline_id}"))
    assert any(p["id"] == pipeline_id for p in ok(api.get("/pipelines")))
    # Heroku's rules: one pipeline per app, known stages, pattern names.
    again = api.post(
        "/pipeline-couplings", json={"app": staging["id"], "pipeline": pipeline_id, "stage": "review"}
    )
    assert again.status_code == 422 and again.json()["id"] == "invalid_params"
    assert api.post("/pipelines", json={"name": "No Caps"}).status_code == 422
    assert api.patch(f"/pipeline-couplings/{coupling['id']}", json={"stage": "qa"}).status_code == 422

    api.patch(f"/apps/{production['id']}/config-vars", json={"ONLY_IN_PRODUCTION": "1"})
    tested = ok(api.get(f"/apps/{staging['id']}/releases/1"))
    body = {
        "pipeline": {"id": pipeline_id},
        "source": {"app": {"id": staging["id"]}, "release": {"id": tested["id"]}},
        "targets": [{"app": {"id": production["id"]}}],
    }
    promotion = ok(api.post("/pipeline-promotions", json=body), 201)
    assert promotion["source"]["release"] == {"id": tested["id"]}
    targets = _settled(api, promotion["id"])
    assert [t["status"] for t in targets] == ["succeeded"], targets
    made = ok(api.get(f"/apps/{production['id']}/releases/{targets[0]['release']['id']}"))
    assert made["slug"] == tested["slug"]  # the tested slug, with the target's own config vars
    assert f"Promote {staging['name']} v1" == made["description"]
    config = api.get(f"/apps/{production['id']}/releases/{made['version']}/config-vars").json()
    assert config.get("ONLY_IN_PRODUCTION") == "1"
    assert ok(api.get(f"/pipeline-promotions/{promotion['id']}"))["status"] == "completed"
    # A target outside the pipeline is refused before anything is released.
    outsider = ok(api.post("/apps", json={}), 201)
    try:
        body["targets"] = [{"app": {"id": outsider["id"]}}]
        refused = api.post("/pipeline-promotions", json=body)
        assert refused.status_code == 422 and "not part of pipeline" in refused.json()["message"]
    finally:
        api.delete(f"/apps/{outsider['id']}")


def _production_with_pipeline(emulator: EmulatorProcess) -> str:
    with _client(emulator) as api:
        production = ok(api.post("/apps", json={"name": "shop-production-copy"}), 201)
        pipeline = ok(api.post("/pipelines", json={"name": "shop"}), 201)
        for app, stage in ((DEMO, "staging"), (production["id"], "production")):
            ok(
                api.post(
                    "/pipeline-couplings", json={"app": app, "pipeline": pipeline["id"], "stage": stage}
                ),
                201,
            )
    return str(production["name"])


def _releases(emulator: EmulatorProcess, app: str) -> list[dict[str, Any]]:
    with _client(emulator) as api:
        return list(api.get(f"/apps/{app}/releases").json())


def _strict_profile(tmp_path: Path) -> Path:
    """The short profile with an SLO no app meets: the gate must hold the release back."""
    path = write_profile(tmp_path, hold_s=2)
    path.write_text(path.read_text().replace("p95_ms: 250", "p95_ms: 0.01"))
    return path


def test_run_promote_moves_the_tested_release_only_when_it_passed(
    tmp_path: Path, harness_runs: list[HarnessProcess], outside_emulator: EmulatorProcess
) -> None:
    production = _production_with_pipeline(outside_emulator)
    env = harness_env(
        tmp_path, HEROKU_API_URL=outside_emulator.api_url, HEROKU_API_KEY=outside_emulator.token
    )
    failing = HarnessProcess(
        ["run", "peak", "--promote", "--scenarios", str(_strict_profile(tmp_path))], cwd=tmp_path, env=env
    )
    harness_runs.append(failing)
    assert failing.wait(timeout_s=300) == 1, failing.output
    assert "not promoted: " in failing.output and "did not pass" in failing.output
    assert _releases(outside_emulator, production) == []  # nothing was promoted

    passing_dir = tmp_path / "second"
    passing_dir.mkdir()
    scenarios = write_profile(passing_dir, hold_s=2)
    env = harness_env(
        passing_dir, HEROKU_API_URL=outside_emulator.api_url, HEROKU_API_KEY=outside_emulator.token
    )
    passing = HarnessProcess(
        ["run", "peak", "--promote", "--scenarios", str(scenarios)], cwd=passing_dir, env=env
    )
    harness_runs.append(passing)
    assert passing.wait(timeout_s=300) == 0, passing.output
    tested = max(_releases(outside_emulator, DEMO), key=lambda r: r["version"])
    assert f"promoted {DEMO} v{tested['version']} (production) to {production} v1" in passing.output
    made = _releases(outside_emulator, production)
    assert [r["slug"] for r in made] == [tested["slug"]]
    assert outside_emulator.token not in passing.output
