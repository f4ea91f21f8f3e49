"""Where the Heroku API token comes from, and the type that keeps it out of output.

The lookup order is the Heroku CLI's (NOTES §1.2): `HEROKU_API_KEY`, then the
netrc entry for `machine api.heroku.com` (`$NETRC` or `~/.netrc`). The token is
held in `ApiToken`, whose `str`/`repr` is `[secure]`, so it cannot leak into
logs, exceptions, reports or run files by formatting; only `reveal()` gives
the value, and only the HTTP client calls it.
"""

from __future__ import annotations

import enum
import netrc
import os
from collections.abc import Mapping
from pathlib import Path

from harness.errors import AuthError

__all__ = ["API_HOST", "ApiToken", "TokenSource", "find_token", "netrc_path"]

API_HOST = "api.heroku.com"
_MASK = "[secure]"


class TokenSource(enum.StrEnum):
    """Where a token was found (said in error messages, never the value)."""

    ENV = "HEROKU_API_KEY"  # the environment variable
    NETRC = "netrc"  # `machine api.heroku.com` in the netrc file
    ARGUMENT = "argument"  # given by the caller (tests, the emulator's token)


class ApiToken:
    """A Heroku API token whose text form is always `[secure]`."""

    __slots__ = ("_source", "_value")

    def __init__(self, value: str, source: TokenSource = TokenSource.ARGUMENT) -> None:
        if not value or not value.strip():
            raise AuthError(
                "The Heroku API token is empty. Set HEROKU_API_KEY (e.g. `export HEROKU_API_KEY=$(heroku "
                "auth:token)`) or log in with `heroku login` so ~/.netrc has `machine api.heroku.com`."
            )
        self._value = value.strip()
        self._source = source

    @property
    def source(self) -> TokenSource:
        """Where the token came from."""
        return self._source

    def reveal(self) -> str:
        """The secret itself: only for the `Authorization` header."""
        return self._value

    def __str__(self) -> str:
        return _MASK

    def __repr__(self) -> str:
        return f"ApiToken({_MASK}, source={self._source.value})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiToken) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("ApiToken is not picklable: secrets never go to disk")


def netrc_path(environ: Mapping[str, str] | None = None) -> Path:
    """The netrc file the Heroku CLI reads: `$NETRC` if set, else `~/.netrc`."""
    env = os.environ if environ is None else environ
    if env.get("NETRC"):
        return Path(env["NETRC"]).expanduser()
    return Path(env.get("HOME") or Path.home()).expanduser() / ".netrc"


def _from_netrc(path: Path, host: str) -> str | None:
    if not path.is_file():
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        # The parse error text may quote a line of the file, i.e. a token: say only where.
        raise AuthError(
            f"Could not read the netrc file {path} ({type(exc).__name__}). Fix it with `heroku login`, "
            "or set HEROKU_API_KEY instead."
        ) from None
    password = entry[2] if entry else ""
    if password and any(ch.isspace() or ch in "\"'" for ch in password):
        # Heroku's CLI writes `password <token>` unquoted and reads it back as one run of non-space
        # characters, so such an entry was not written by it and would not work with it either.
        raise AuthError(
            f"The netrc file {path} has a `machine {host}` password with spaces or quotes, which no "
            "Heroku API token has. Run `heroku login` to rewrite it, or set HEROKU_API_KEY instead."
        )
    return password or None


def find_token(environ: Mapping[str, str] | None = None, *, host: str = API_HOST) -> ApiToken:
    """The token to use: `HEROKU_API_KEY`, else netrc `machine <host>`; AuthError saying how to set one."""
    env = os.environ if environ is None else environ
    if env.get("HEROKU_API_KEY", "").strip():
        return ApiToken(env["HEROKU_API_KEY"], TokenSource.ENV)
    path = netrc_path(env)
    value = _from_netrc(path, host)
    if value:
        return ApiToken(value, TokenSource.NETRC)
    hint = ""
    if env.get("HEROKU_API_TOKEN"):
        hint = " HEROKU_API_TOKEN is set: you probably meant HEROKU_API_KEY."
    raise AuthError(
        "No Heroku API token found. Set HEROKU_API_KEY (e.g. `export HEROKU_API_KEY=$(heroku auth:token)`), "
        f"or run `heroku login` so {path} has a `machine {host}` entry.{hint}"
    )
