"""Releases from code: the Build API and `harness emulator deploy`, schema-valid, with rollback.

Each deploy is a new slug (its commit the directory's git HEAD, its size with `.slugignore`
honoured) and a new release; every dyno restarts on it and the formation survives deploys and
rollbacks, as on Heroku.
"""

from __future__ import annotations

import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from harness.cli.app import cli
from harness.emulator import EmulatorProcess
from harness.emulator.schema import assert_request, assert_response
from tests.integration.helpers import trusting

ACCEPT = "application/vnd.heroku+json; version=3"
WAIT_S = 60.0
APP_PY = """
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (open("message.txt").read().strip() + " " + os.environ["HEROKU_RELEASE_VERSION"]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def _commit(repo: Path, message: str) -> str:
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", message], check=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    repo = tmp_path / "shop"
    repo.mkdir()
    (repo / "Procfile").write_text("web: python app.py\n")
    (repo / "app.py").write_text(APP_PY)
    (repo / "message.txt").write_text("one\n")
    (repo / ".slugignore").write_text("*.bin\n")
    (repo / "big.bin").write_bytes(b"x" * 200_000)  # ignored: never in the slug size
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    _commit(repo, "first")
    return repo


@pytest.fixture
def emulator(shop: Path, tmp_path: Path) -> Iterator[EmulatorProcess]:
    process = EmulatorProcess.start(
        apps={"shop": shop}, home=tmp_path / "home", shutdown_grace_s=1.0, boot_timeout_s=30.0
    )
    try:
        yield process
    finally:
        process.stop()


def _api(emulator: EmulatorProcess) -> httpx.Client:
    headers = {"Authorization": f"Bearer {emulator.token}", "Accept": ACCEPT}
    return httpx.Client(base_url=emulator.api_url, headers=headers, timeout=30)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert_response(response.request.method, response.request.url.path, response.json())
    return response.json()


def _serves(emulator: EmulatorProcess, text: str) -> str:
    deadline, last = time.monotonic() + WAIT_S, ""
    while time.monotonic() < deadline:
        try:
            last = httpx.get(emulator.web_url("shop"), verify=trusting(emulator), timeout=5).text
            if last == text:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the app never served {text!r} (last: {last!r})")


def _web(api: httpx.Client) -> int:
    return int(ok(api.get("/apps/shop/formation/web"))["quantity"])


def test_deploy_makes_a_new_slug_and_release_and_rollback_keeps_the_formation(
    emulator: EmulatorProcess, shop: Path
) -> None:
    with _api(emulator) as api:
        ok(api.patch("/apps/shop/formation/web", json={"quantity": 2}))
        _serves(emulator, "one v1")
        first = ok(api.get("/apps/shop/releases"))[-1]
        first_slug = ok(api.get(f"/apps/shop/slugs/{first['slug']['id']}"))
        assert (
            first_slug["commit"]
            == subprocess.run(
                ["git", "-C", str(shop), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
        (shop / "message.txt").write_text("two, a longer message\n")
        second_commit = _commit(shop, "second")
        env = {"HEROKU_API_URL": emulator.api_url, "HARNESS_EMULATOR_TOKEN": emulator.token}
        result = CliRunner().invoke(cli, ["emulator", "deploy", "shop", str(shop)], env=env)
        assert result.exit_code == 0, result.output
        assert "-----> Building on the Heroku-24 stack" in result.output and "Released shop" in result.output
        builds = ok(api.get("/apps/shop/builds"))
        assert [b["status"] for b in builds] == ["succeeded"]
        build = ok(api.get(f"/apps/shop/builds/{builds[0]['id']}"))
        release = ok(api.get(f"/apps/shop/releases/{build['release']['id']}"))
        assert release["version"] == 2 and release["slug"]["id"] == build["slug"]["id"]
        slug = ok(api.get(f"/apps/shop/slugs/{build['slug']['id']}"))
        assert slug["commit"] == second_commit and slug["commit_description"] == "second"
        assert slug["size"] == first_slug["size"] + len("two, a longer message\n") - len("one\n")
        assert slug["size"] < 200_000, ".slugignore'd big.bin is not in the slug"
        _serves(emulator, "two, a longer message v2")
        assert _web(api) == 2
        rolled = ok(api.post("/apps/shop/releases", json={"release": first["id"]}), 201)
        assert rolled["version"] == 3 and rolled["slug"]["id"] == first["slug"]["id"]
        _serves(emulator, "one v3")
        assert _web(api) == 2


def test_builds_from_a_tarball_and_their_failures(
    emulator: EmulatorProcess, shop: Path, tmp_path: Path
) -> None:
    tarball = tmp_path / "source.tgz"
    (shop / "message.txt").write_text("three\n")
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(shop, arcname="shop", filter=lambda info: None if ".git" in info.name else info)
    with _api(emulator) as api:
        body = {"source_blob": {"url": tarball.as_uri(), "version": "v-three"}}
        assert_request("POST", "/apps/shop/builds", body)
        build = ok(api.post("/apps/shop/builds", json=body), 201)
        assert build["status"] == "pending" and build["source_blob"]["version"] == "v-three"
        done = _finished(api, build["id"])
        assert done["status"] == "succeeded", api.get(done["output_stream_url"]).text
        slug = ok(api.get(f"/apps/shop/slugs/{done['slug']['id']}"))
        assert slug["commit"] == "v-three"
        _serves(emulator, "three v2")
        refused = api.post("/apps/shop/builds", json={"source_blob": {"url": "https://example.com/a.tgz"}})
        assert refused.status_code == 422 and "loopback" in refused.json()["message"]
        broken = tmp_path / "broken"
        broken.mkdir()
        (broken / "Procfile").write_text("web: python app.py\n")
        (broken / ".python-version").write_text("not-a-version\n")
        failed = _finished(
            api, ok(api.post("/apps/shop/builds", json={"source_blob": {"url": broken.as_uri()}}), 201)["id"]
        )
        assert failed["status"] == "failed" and failed["release"] is None
        assert "is not a Python version" in api.get(failed["output_stream_url"]).text
        assert ok(api.get("/apps/shop/releases"))[-1]["version"] == 2, "a failed build releases nothing"


def _finished(api: httpx.Client, build_id: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        build = ok(api.get(f"/apps/shop/builds/{build_id}"))
        if build["status"] != "pending":
            return build
        time.sleep(0.2)
    pytest.fail("the build never finished")
