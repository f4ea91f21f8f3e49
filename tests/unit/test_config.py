"""scenarios.yaml mistakes: each kind names the file, the line and the field, and what is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.app import cli
from harness.config import load_config, parse_config
from harness.errors import ConfigError, LocustfileError
from harness.load.locustfile import check_locustfiles

REPO = Path(__file__).resolve().parents[2]

LOCUSTFILE = """\
from locust import FastHttpUser, task


class Browser(FastHttpUser):
    @task
    def home(self):
        self.client.get("/")
"""

BASE = """\
version: 1
target:
  app: harness-demo
  formations: [{quantity: 1}]
locustfiles:
  shop:
    path: shop.py
expected_peak: {rps: 40}
scenarios:
  - name: shop-load
    kind: load
    level: {rps: 40}
    hold_s: 10
"""


def write(tmp_path: Path, text: str, locustfile: str | None = LOCUSTFILE) -> Path:
    if locustfile is not None:
        (tmp_path / "shop.py").write_text(locustfile)
    path = tmp_path / "scenarios.yaml"
    path.write_text(text)
    return path


def test_a_valid_file_loads_and_its_locustfile_imports(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    assert check_locustfiles(config) == {"shop": ["Browser"]}


def test_unknown_key_names_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("    hold_s: 10\n", "    hold_s: 10\n    hold: 10\n"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.line, caught.value.field) == (14, "scenarios[0].hold")
    assert str(caught.value).startswith(f"{path}:14: scenarios[0].hold: unknown key")


def test_wrong_type_names_line_field_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("hold_s: 10", "hold_s: ten"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.line, caught.value.field) == (13, "scenarios[0].hold_s")
    assert "valid number" in str(caught.value) and "'ten'" in str(caught.value)


def test_negative_duration_says_what_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("hold_s: 10", "hold_s: -5"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.line, caught.value.field) == (13, "scenarios[0].hold_s")
    assert "greater than 0" in str(caught.value)


def test_missing_locustfile_names_the_field(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE, locustfile=None))
    with pytest.raises(LocustfileError) as caught:
        check_locustfiles(config)
    assert caught.value.field == "locustfiles.shop.path"
    assert "locustfile not found" in str(caught.value)


def test_locustfile_that_fails_to_import_shows_a_short_traceback(tmp_path: Path) -> None:
    broken = "import os\n\nfrom harness_no_such_module import helper  # line 3\n"
    config = load_config(write(tmp_path, BASE, locustfile=broken))
    with pytest.raises(LocustfileError) as caught:
        check_locustfiles(config)
    message = str(caught.value)
    assert caught.value.field == "locustfiles.shop.path"
    assert "shop.py:3 in <module>: from harness_no_such_module import helper" in message
    assert "ModuleNotFoundError: No module named 'harness_no_such_module'" in message
    assert "importlib" not in message  # harness's own import machinery is not shown


def test_locustfile_with_a_syntax_error_shows_the_line(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE, locustfile="from locust import task\n\ndef broken(:\n"))
    with pytest.raises(LocustfileError) as caught:
        check_locustfiles(config)
    assert "shop.py:3: def broken(:" in str(caught.value)
    assert "SyntaxError" in str(caught.value)


def test_unknown_user_class_lists_the_classes_the_file_defines(tmp_path: Path) -> None:
    text = BASE.replace("    path: shop.py\n", "    path: shop.py\n    user_classes: {Buyer: 2}\n")
    config = load_config(write(tmp_path, text))
    with pytest.raises(LocustfileError) as caught:
        check_locustfiles(config)
    assert caught.value.field == "locustfiles.shop.user_classes"
    assert "no User class named Buyer" in str(caught.value) and "it defines: Browser" in str(caught.value)


def test_validate_command_accepts_the_shipped_scenarios_file() -> None:
    result = CliRunner().invoke(cli, ["validate", str(REPO / "scenarios.yaml")])
    assert result.exit_code == 0, result.output
    assert "scenario shop-load: load" in result.output
    assert "locustfile search: search_only.py → Searcher" in result.output


def test_validate_command_exits_2_with_the_location(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("hold_s: 10", "hold_s: -5"))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:13: scenarios[0].hold_s" in result.output


def test_the_readme_example_is_a_valid_scenarios_file(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## scenarios.yaml", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = parse_config(example, source=tmp_path / "scenarios.yaml")
    assert [s.kind for s in config.scenarios] == ["load", "stress", "spike", "soak"]
