"""app.json as the emulator reads it: env (value, secret generator, required), add-ons, formation."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.emulator.appjson import AddonRequest, read_app_json
from harness.errors import ConfigError


def manifest_in(tmp_path: Path, data: Any) -> Path:
    (tmp_path / "app.json").write_text(json.dumps(data) if not isinstance(data, str) else data)
    return tmp_path


def test_no_app_json_is_an_empty_manifest(tmp_path: Path) -> None:
    manifest = read_app_json(tmp_path)
    assert (manifest.env, manifest.addons, manifest.formation) == ({}, [], [])


def test_env_addons_and_formation_are_read(tmp_path: Path) -> None:
    data = {
        "name": "ignored",
        "scripts": {"postdeploy": "ignored"},
        "env": {
            "PLAIN": "text",
            "GREETING": {"value": "hi", "description": "shown"},
            "SECRET_KEY": {"generator": "secret"},
            "OPTIONAL": {"required": False},
        },
        "addons": ["heroku-postgresql:essential-0", {"plan": "heroku-redis:mini", "as": "CACHE"}],
        "formation": {"web": {"quantity": 2, "size": "standard-2x"}, "worker": {"quantity": 1}},
    }
    manifest = read_app_json(manifest_in(tmp_path, data))
    assert manifest.env["PLAIN"] == "text" and manifest.env["GREETING"] == "hi"
    assert re.fullmatch(r"[0-9a-f]{64}", manifest.env["SECRET_KEY"])
    assert "OPTIONAL" not in manifest.env
    assert read_app_json(tmp_path).env["SECRET_KEY"] != manifest.env["SECRET_KEY"], "generated afresh"
    assert manifest.addons == [
        AddonRequest("heroku-postgresql:essential-0"),
        AddonRequest("heroku-redis:mini", "CACHE"),
    ]
    assert manifest.formation == [
        {"type": "web", "quantity": 2, "size": "standard-2x"},
        {"type": "worker", "quantity": 1},
    ]


@pytest.mark.parametrize(
    ("data", "field", "hint"),
    [
        ({"env": {"API_KEY": {"description": "from the user"}}}, "env.API_KEY", "is required"),
        ({"env": {"API_KEY": {"required": True}}}, "env.API_KEY", '"required": false'),
        ({"env": {"K": {"generator": "uuid"}}}, "env.K.generator", '"secret"'),
        ({"env": {"K": {"value": 3}}}, "env.K.value", "must be a string"),
        ({"env": ["K"]}, "env", "object"),
        ({"addons": "heroku-redis"}, "addons", "must be a list"),
        ({"addons": [{"as": "X"}]}, "addons[0]", '"plan"'),
        ({"formation": {"web": {"quantity": -1}}}, "formation.web.quantity", ">= 0"),
        ({"formation": {"web": {"size": 2}}}, "formation.web.size", "dyno size"),
        ([1, 2], None, "one JSON object"),
    ],
)
def test_bad_app_json_names_file_and_field(tmp_path: Path, data: Any, field: str | None, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_app_json(manifest_in(tmp_path, data))
    assert caught.value.file == str(tmp_path / "app.json")
    assert caught.value.field == field
    assert hint in str(caught.value) and str(tmp_path / "app.json") in str(caught.value)


def test_app_json_that_is_not_json_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_app_json(manifest_in(tmp_path, "{not json"))
