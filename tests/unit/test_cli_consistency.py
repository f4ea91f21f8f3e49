"""One CLI: the same output option everywhere, flags as flags, and error text a person can act on.

The error-message test runs every error path it can reach without a platform (bad files, bad
overrides, bad arguments, the API's own wording) through the real commands and checks the text:
one paragraph, no doubled full stop, no validation-library dump or link, no traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from harness.capacity.verdict import judge_run
from harness.cli.app import cli
from harness.errors import ConfigError, PlatformError, tidy
from harness.measurements import SearchStatus
from harness.platform.heroku import error_for_response
from harness.results import RunStore
from tests.unit.results_synthetic import AppModel, synthetic_meta, synthetic_stress

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = str(ROOT / "scenarios.yaml")

# Commands that print records, and the formats each offers.
FORMATS = {
    "run": "[table|json]",
    "load": "[table|json|csv]",
    "stress": "[table|json|csv]",
    "history": "[table|json|csv]",
    "report": "[table|json]",
    "compare": "[table|json]",
    "status": "[table|json]",
    "scale": "[table|json]",
    "restore": "[table|json]",
}


@pytest.mark.parametrize("command", sorted(FORMATS))
def test_every_command_that_prints_records_has_one_format_option(command: str) -> None:
    text = CliRunner().invoke(cli, [command, "-h"], terminal_width=200).output
    assert f"--format {FORMATS[command]}" in text
    assert not re.search(r"--json\b|--csv\b|--open-browser", text)  # old spellings: hidden aliases


def test_report_opens_with_a_flag_and_the_old_spellings_still_work(tmp_path: Path) -> None:
    text = CliRunner().invoke(cli, ["report", "-h"]).output
    assert "--open / --no-open" in text
    run = RunStore(tmp_path).create("harness-demo", synthetic_meta(release=7))
    run.add_scenario(synthetic_stress(AppModel()))
    run.finish(judge=judge_run)
    for argv in (["--format", "json", "--no-open"], ["--json", "--open-browser", "no"]):
        result = CliRunner().invoke(cli, ["report", str(run.path), *argv])
        assert result.exit_code == 0, result.output
        assert result.output.lstrip().startswith("{")


def test_history_says_above_the_max_for_a_search_that_never_broke(tmp_path: Path) -> None:
    stress = synthetic_stress(AppModel())
    assert stress.breaking_point is not None
    point = stress.breaking_point.model_copy(
        update={"status": SearchStatus.NOT_REACHED, "level": 800.0, "sustainable_rps": 790.0}
    )
    run = RunStore(tmp_path).create("harness-demo", synthetic_meta(release=8))
    run.add_scenario(stress.model_copy(update={"breaking_point": point}))
    run.finish(judge=judge_run)
    result = CliRunner().invoke(cli, ["history", "--reports-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    row = result.output.splitlines()[1]
    assert row.split("pass", 1)[1].split()[:3] == [">", "800", "req/s"]  # not n/a


def _files(tmp_path: Path) -> dict[str, Path]:
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_here\n")
    base = (ROOT / "scenarios.yaml").read_text().replace("path: locustfiles/", f"path: {ROOT}/locustfiles/")
    files = {
        "tab": "version: 1\ntarget:\n\tapp: shop\n",
        "unknown": base.replace("expected_peak:", "expected_peek:", 1),
        "bad_value": base.replace("tolerance: 0.1", "tolerance: 2", 1),
        "not_yaml": "version: 1\ntarget: [unclosed\n",
        "locustfile": base.replace(f"path: {ROOT}/locustfiles/demo_shop.py", f"path: {broken}", 1),
    }
    paths = {}
    for name, text in files.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        paths[name] = path
    return paths


STRESS = ["stress", "--scenarios", SHIPPED, "--host", "http://127.0.0.1:9"]
ERROR_PATHS: list[tuple[str, list[str]]] = [
    ("missing file", ["validate", "{tmp}/nope.yaml"]),
    ("tab", ["validate", "{tab}"]),
    ("unknown key", ["validate", "{unknown}"]),
    ("bad value", ["validate", "{bad_value}"]),
    ("not yaml", ["validate", "{not_yaml}"]),
    ("bad locustfile", ["validate", "{locustfile}"]),
    ("start above max", [*STRESS, "--rate-start", "900"]),
    ("both starts", [*STRESS, "--rate-start", "9", "--users-start", "2"]),
    ("tolerance", [*STRESS, "--tolerance", "1.5"]),
    ("not a stress scenario", [*STRESS, "shop-load"]),
    ("unknown scenario", ["load", "nope", "--scenarios", SHIPPED, "--host", "http://127.0.0.1:9"]),
    ("unreachable host", ["load", "shop-load", "--scenarios", SHIPPED, "--host", "http://127.0.0.1:9"]),
    ("compare without sides", ["compare"]),
    ("compare unknown runs", ["compare", "nope-a", "nope-b", "--reports-dir", "{tmp}"]),
    ("report of no run", ["report", "{tmp}"]),
    ("bad format", ["history", "--format", "xml"]),
]  # fmt: skip


@pytest.mark.parametrize(("what", "argv"), ERROR_PATHS, ids=[w for w, _ in ERROR_PATHS])
def test_every_error_message_is_one_clean_paragraph(what: str, argv: list[str], tmp_path: Path) -> None:
    values = {name: str(path) for name, path in _files(tmp_path).items()} | {"tmp": str(tmp_path)}
    result = CliRunner().invoke(cli, [arg.format(**values) for arg in argv])
    assert result.exit_code not in (0, None), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    text = result.output.strip()
    _assert_clean(text)
    if what == "tab":
        assert "tab character" in text and "spaces" in text and ":3:" in text
    if what == "start above max":
        assert "--rate-start 900" in text and "'max' must be above 'start'" in text


def _assert_clean(text: str) -> None:
    assert text, "no message"
    assert not re.search(r"(?<!\.)\.\.(?!\.)", text), text  # doubled full stop, not an ellipsis
    assert "pydantic" not in text and "https://errors" not in text and "validation error" not in text
    assert "Traceback" not in text and "[type=" not in text and "input_value" not in text


@pytest.mark.parametrize(
    "message", ["Invalid credentials provided.", "Couldn't find that app.", "no full stop", "Done!"]
)
def test_the_apis_own_sentences_are_not_given_a_second_full_stop(message: str) -> None:
    request = httpx.Request("GET", "https://api.example.test/apps/x")
    response = httpx.Response(404, json={"id": "not_found", "message": message}, request=request)
    error = error_for_response(response, "req-1", app="x")
    assert isinstance(error, PlatformError)
    _assert_clean(str(error))
    assert message.rstrip(".!") in str(error)


def test_every_harness_error_collapses_a_doubled_stop_but_keeps_an_ellipsis() -> None:
    assert str(ConfigError("bad value..", field="x")) == "x: bad value."
    assert tidy("wait... then go.. now") == "wait... then go. now"
