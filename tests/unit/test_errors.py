"""The exception tree: exit codes and the context each message carries."""

import pytest

from harness import errors


def test_every_error_class_has_an_exit_code_and_derives_from_the_root() -> None:
    classes = [getattr(errors, name) for name in errors.__all__ if name.endswith("Error")]
    assert classes
    for cls in classes:
        assert issubclass(cls, errors.HarnessError)
        assert cls.exit_code in {2, 3, 4}


def test_config_error_names_file_line_and_field() -> None:
    exc = errors.ConfigError("must be positive", file="scenarios.yaml", line=12, field="scenarios[0].hold_s")
    assert str(exc) == "scenarios.yaml:12: scenarios[0].hold_s: must be positive"
    assert exc.exit_code == errors.EXIT_CONFIG


def test_platform_error_carries_request_id() -> None:
    exc = errors.NotFoundError("Couldn't find that app.", status=404, error_id="not_found", request_id="abc")
    assert "abc" in str(exc)
    assert (exc.status, exc.error_id) == (404, "not_found")


def test_restore_error_lists_manual_commands_and_exits_4() -> None:
    exc = errors.RestoreError("could not restore", app="a", manual_commands=["heroku ps:scale web=1 -a a"])
    assert "heroku ps:scale web=1 -a a" in str(exc)
    assert exc.exit_code == errors.EXIT_RESTORE


@pytest.mark.parametrize("cls", [errors.LocustfileError, errors.GuardError])
def test_input_errors_are_config_errors(cls: type[errors.ConfigError]) -> None:
    assert issubclass(cls, errors.ConfigError)
