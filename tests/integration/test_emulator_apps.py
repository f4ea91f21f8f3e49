"""Several apps: `POST /apps`, `DELETE /apps/{app}` and `GET /apps` paged with Range across many of them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from harness.emulator import EmulatorProcess
from tests.integration.api_helpers import api_client, ok

APPS = 23
PAGE = 5


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    with api_client(emulator, 60.0) as client:
        yield client


def test_get_apps_pages_through_many_apps_with_range(api: httpx.Client) -> None:
    created = [ok(api.post("/apps", json={"name": f"paged-{i:02d}"}), 201) for i in range(APPS)]
    try:
        names: list[str] = []
        pages = 0
        header = f"name ..; max={PAGE}"
        while header:
            response = api.get("/apps", headers={"Range": header})
            page = ok(response)
            assert len(page) <= PAGE and response.headers["Content-Range"].startswith("name ")
            names += [a["name"] for a in page]
            pages += 1
            header = response.headers.get("Next-Range", "")
            assert (response.status_code == 206) == bool(header)
            assert pages <= APPS, "the pages must end"
        assert names == sorted(names), "pages follow the name order"
        assert {a["name"] for a in created} <= set(names) and len(names) == len(set(names))
        assert pages >= APPS // PAGE
        newest_first = ok(api.get("/apps", headers={"Range": "name ..; max=3, order=desc"}))
        assert [a["name"] for a in newest_first] == sorted(names, reverse=True)[:3]
    finally:
        for app in created:
            assert ok(api.delete(f"/apps/{app['id']}"))["name"] == app["name"]
    remaining = {a["name"] for a in ok(api.get("/apps", headers={"Range": "name ..; max=1000"}))}
    assert not remaining & {a["name"] for a in created}
    assert api.get(f"/apps/{created[0]['name']}").status_code == 404


def test_create_app_refuses_a_taken_or_bad_name(api: httpx.Client) -> None:
    app = ok(api.post("/apps", json={"name": "taken-name"}), 201)
    try:
        assert api.post("/apps", json={"name": "taken-name"}).json()["message"] == "Name is already taken"
        assert api.post("/apps", json={"name": "Bad_Name"}).status_code == 422
    finally:
        api.delete(f"/apps/{app['id']}")
