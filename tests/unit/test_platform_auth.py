"""Token lookup order and the secret type that keeps tokens out of output."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from harness.errors import AuthError
from harness.platform.auth import ApiToken, TokenSource, find_token, netrc_path

SECRET = "0f3c1a2b-secret-token-value"


def write_netrc(path: Path, host: str = "api.heroku.com", token: str = SECRET) -> Path:
    path.write_text(f"machine {host}\n  login me@example.com\n  password {token}\n")
    path.chmod(0o600)
    return path


def test_env_var_wins_over_netrc(tmp_path: Path) -> None:
    netrc = write_netrc(tmp_path / "netrc", token="from-netrc")
    token = find_token({"HEROKU_API_KEY": SECRET, "NETRC": str(netrc)})
    assert token.reveal() == SECRET
    assert token.source is TokenSource.ENV


def test_netrc_named_by_env_var(tmp_path: Path) -> None:
    netrc = write_netrc(tmp_path / "netrc")
    token = find_token({"NETRC": str(netrc)})
    assert token.reveal() == SECRET
    assert token.source is TokenSource.NETRC


def test_netrc_in_home(tmp_path: Path) -> None:
    write_netrc(tmp_path / ".netrc")
    assert netrc_path({"HOME": str(tmp_path)}) == tmp_path / ".netrc"
    assert find_token({"HOME": str(tmp_path)}).reveal() == SECRET


def test_netrc_for_another_host_is_not_used(tmp_path: Path) -> None:
    netrc = write_netrc(tmp_path / "netrc", host="git.heroku.com")
    with pytest.raises(AuthError, match="HEROKU_API_KEY"):
        find_token({"NETRC": str(netrc)})


def test_missing_token_says_how_to_set_one(tmp_path: Path) -> None:
    with pytest.raises(AuthError) as info:
        find_token({"HOME": str(tmp_path), "HEROKU_API_TOKEN": SECRET})
    message = str(info.value)
    assert "export HEROKU_API_KEY" in message
    assert "heroku login" in message
    assert "you probably meant HEROKU_API_KEY" in message
    assert SECRET not in message


def test_unparsable_netrc_error_does_not_quote_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "netrc"
    bad.write_text(f"machine api.heroku.com\n  login me@example.com\n  password {SECRET}\n  macdef\n")
    bad.chmod(0o600)
    with pytest.raises(AuthError, match="Could not read the netrc file") as info:
        find_token({"NETRC": str(bad)})
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "password",
    [f'"{SECRET}\n  macdef\n', f'"{SECRET} extra"', f"'{SECRET}'"],
    ids=["unclosed", "space", "quoted"],
)
def test_a_netrc_password_with_spaces_or_quotes_is_refused(tmp_path: Path, password: str) -> None:
    """Heroku's CLI writes `password <token>` unquoted and reads `\\S+`: no token it wrote looks like this."""
    bad = tmp_path / "netrc"
    bad.write_text(f"machine api.heroku.com password {password}\n")
    bad.chmod(0o600)
    with pytest.raises(AuthError, match="spaces or quotes") as info:
        find_token({"NETRC": str(bad)})
    assert SECRET not in str(info.value)
    assert "heroku login" in str(info.value)


def test_token_text_forms_are_masked() -> None:
    token = ApiToken(SECRET)
    for text in (str(token), repr(token), f"{token}", f"{token!r}", str([token]), str({"t": token})):
        assert SECRET not in text
        assert "[secure]" in text


def test_token_refuses_pickling() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(ApiToken(SECRET))


def test_empty_token_is_an_auth_error() -> None:
    with pytest.raises(AuthError):
        ApiToken("  ")
