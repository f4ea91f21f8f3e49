"""`harness run --dry-run` refuses exactly when the real run would, before anything starts.

Offline refusals: a protected or unnamed app, a formation over the guards' ceilings, a journal
left by an earlier run, a locustfile that is missing, does not import, or has no User class.
Each one exits with the code the real run would exit with, and says why; none writes anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.app import cli
from harness.platform.journal import Journal, JournalStore
from harness.platform.models import Formation, ProcessFormation

REPO = Path(__file__).resolve().parents[2]

PROFILE = """
version: 1
target:
  app: harness-demo
  platform: {platform}
  formations: [{{quantity: {quantity}, size: Standard-1X}}]
  protected_apps: [shop-production]
locustfiles:
  shop: {{path: {locustfile}}}
  unused: {{path: {unused}}}
expected_peak: {{rps: 20}}
scenarios:
  - {{name: peak, kind: load, locustfile: shop, level: {{rps: 20}}, hold_s: 2}}
"""


def profile(
    tmp_path: Path, *, quantity: int = 2, locustfile: str | None = None, platform: str = "emulator"
) -> Path:
    path = tmp_path / "scenarios.yaml"
    good = REPO / "locustfiles" / "search_only.py"
    path.write_text(
        PROFILE.format(
            platform=platform,
            quantity=quantity,
            locustfile=locustfile or good,
            unused=tmp_path / "never-imported.py",  # not used by the selected scenario: not checked
        )
    )
    return path


@pytest.fixture
def state(tmp_path: Path) -> Path:
    os.environ["HARNESS_STATE_DIR"] = str(tmp_path / "state")
    return tmp_path / "state"


def dry_run(scenarios: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["run", "--dry-run", "--scenarios", str(scenarios), *args])
    return result.exit_code, result.stdout, result.stderr


def test_a_clean_dry_run_exits_0(tmp_path: Path, state: Path) -> None:
    code, out, _ = dry_run(profile(tmp_path))
    assert code == 0, out
    assert "Dry run: nothing is scaled or loaded." in out
    assert not state.exists()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, "locustfile not found"),
        ("import no_such_module_anywhere\n", "No module named 'no_such_module_anywhere'"),
        ("x = 1\n", "defines no User class"),
    ],
)
def test_a_bad_locustfile_refuses_the_dry_run(
    tmp_path: Path, state: Path, body: str | None, reason: str
) -> None:
    locustfile = tmp_path / "bad_locustfile.py"
    if body is not None:
        locustfile.write_text(body)
    code, out, err = dry_run(profile(tmp_path, locustfile=str(locustfile)))
    assert code == 2
    assert "Dry run: nothing is scaled or loaded." in out  # the plan is still shown
    assert "the real run would be refused" in err and reason in err and "locustfiles.shop" in err
    assert not state.exists()


def test_formations_over_the_guards_need_yes(tmp_path: Path, state: Path) -> None:
    scenarios = profile(tmp_path, quantity=50)
    code, _, err = dry_run(scenarios)
    assert code == 2
    assert "guards.max_dynos_per_type" in err and "--yes" in err
    assert dry_run(scenarios, "--yes")[0] == 0


def test_a_protected_app_is_refused(tmp_path: Path, state: Path) -> None:
    code, _, err = dry_run(profile(tmp_path), "--app", "shop-production")
    assert code == 2 and "protected app" in err


def journal(api_host: str) -> Journal:
    before = Formation.of([ProcessFormation(type="web", quantity=1, size="Standard-1X")])
    after = Formation.of([ProcessFormation(type="web", quantity=2, size="Standard-1X")])
    return Journal(app="harness-demo", api_host=api_host, original=before, intended=after)


def test_a_leftover_journal_refuses_with_the_restore_command(tmp_path: Path, state: Path) -> None:
    JournalStore(state).write(journal("api.heroku.com"))
    code, out, err = dry_run(profile(tmp_path, platform="auto"), "--json")
    assert code == 2
    assert "harness restore --app harness-demo" in err
    refused = json.loads(out)["refused"]
    assert refused["exit_code"] == 2 and "harness restore --app harness-demo" in refused["reason"]
    assert JournalStore(state).read("harness-demo") is not None


def test_an_earlier_emulator_journal_is_only_noted(tmp_path: Path, state: Path) -> None:
    JournalStore(state).write(journal("127.0.0.1:40111"))
    code, out, _ = dry_run(profile(tmp_path))
    assert code == 0, out
    assert "against 127.0.0.1:40111" in out and "a real run removes it" in out
    assert JournalStore(state).read("harness-demo") is not None  # a dry run deletes nothing
