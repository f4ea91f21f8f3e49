"""What a build reads: the Python version an app names, the interpreter chosen, the slug's files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.emulator.dynos import dyno_environment
from harness.emulator.pythons import choose_python, requested_python
from harness.emulator.sizes import canonical_size
from harness.emulator.slug import git_head, slug_files


def _interpreter(path: Path, version: str, status: int = 0) -> Path:
    """A real executable that answers like `python -c ...` with `version` (a pyenv-like install)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\nexit {status}\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize(
    ("name", "text", "wanted"),
    [
        (".python-version", "3.13\n", "3.13"),
        (".python-version", "# pinned\n3.12.4\n", "3.12.4"),
        ("runtime.txt", "python-3.11.7\n", "3.11.7"),
    ],
)
def test_the_version_the_app_names(tmp_path: Path, name: str, text: str, wanted: str) -> None:
    (tmp_path / name).write_text(text)
    found = requested_python(tmp_path)
    assert found is not None and str(found) == wanted and found.source == name


def test_no_version_and_a_bad_one(tmp_path: Path) -> None:
    assert requested_python(tmp_path) is None
    (tmp_path / ".python-version").write_text("latest\n")
    with pytest.raises(ValueError, match=r"\.python-version: 'latest' is not a Python version"):
        requested_python(tmp_path)


def test_path_first_then_pyenv_then_harness_own_as_a_fallback(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text("3.98\n")
    wanted = requested_python(tmp_path)
    bin_dir, pyenv = tmp_path / "bin", tmp_path / "pyenv"
    on_path = _interpreter(bin_dir / "python3.98", "3.98.1")
    _interpreter(pyenv / "versions" / "3.98.5" / "bin" / "python3.98", "3.98.5")
    env = {"PATH": str(bin_dir), "PYENV_ROOT": str(pyenv)}
    chosen = choose_python(wanted, env)
    assert (chosen.executable, chosen.version, chosen.fallback) == (str(on_path), "3.98.1", False)
    _interpreter(on_path, "", status=127)  # a pyenv shim with no such version installed
    chosen = choose_python(wanted, env)
    assert chosen.version == "3.98.5" and not chosen.fallback
    fallback = choose_python(wanted, {"PATH": str(tmp_path / "empty"), "PYENV_ROOT": str(tmp_path / "none")})
    assert fallback.fallback and fallback.executable == sys.executable
    assert fallback.version == ".".join(map(str, sys.version_info[:3]))


def test_slugignore_and_git_head(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("print('hi')\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "big.txt").write_text("x" * 10_000)
    (tmp_path / "README.md").write_text("readme\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.md").write_text("nested\n")
    before = slug_files(tmp_path)
    (tmp_path / ".slugignore").write_text("# not shipped\n*.md\n/docs\n")
    after = slug_files(tmp_path)
    assert {p.name for p in after.files} == {"app.py", ".slugignore"}
    assert after.size == len("print('hi')\n") + len("# not shipped\n*.md\n/docs\n") < before.size
    assert after.sha1 != before.sha1 and after.checksum.startswith("SHA256:")
    assert git_head(tmp_path) is None
    run = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*run, "init", "-q"], check=True)
    subprocess.run([*run, "add", "-A"], check=True)
    subprocess.run([*run, "commit", "-q", "-m", "First shop"], check=True)
    head = git_head(tmp_path)
    assert head is not None and len(head[0]) == 40 and head[1] == "First shop"
    assert git_head(tmp_path / "docs") is None, "a subdirectory is not the repository's top"


def test_the_dyno_runs_the_app_venv_first_and_never_sees_the_emulator_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_EMULATOR_TOKEN", "secret-token-value")
    monkeypatch.setenv("CI", "true")
    venv_bin = tmp_path / "venv" / "bin"
    env = dyno_environment(
        config={"GREETING": "hi"},
        dyno_name="web.1",
        size=canonical_size("Standard-1X"),
        release_version=3,
        port=5000,
        bin_dir=venv_bin,
    )
    assert env["PATH"].split(os.pathsep)[0] == str(venv_bin)
    assert env["VIRTUAL_ENV"] == str(venv_bin.parent)
    assert "HARNESS_EMULATOR_TOKEN" not in env and "CI" not in env
    assert (env["DYNO"], env["PORT"], env["GREETING"]) == ("web.1", "5000", "hi")
    unbuilt = dyno_environment(
        config={}, dyno_name="web.1", size=canonical_size("Standard-1X"), release_version=1, port=None
    )
    assert unbuilt["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
