"""Copy a Postgres database into another: `pg_dump | psql`, as Heroku Postgres' `--fork` would.

The source is only read (pg_dump). The dump is plain SQL with `--clean
--if-exists`, so a copy interrupted halfway is simply run again. Connection
details travel in each child's environment (PGHOST, PGPASSWORD, …), never on
a command line that `ps` shows, and no URL or password appears in an error:
stderr is scrubbed of both before it is quoted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from urllib.parse import parse_qs, unquote, urlsplit

from harness.errors import ConfigError, PlatformError
from harness.platform.heroku import is_loopback_host

__all__ = ["copy_database", "pg_environment"]

COPY_TIMEOUT_S = 1800.0


def pg_environment(url: str) -> dict[str, str]:
    """libpq's variables for a `postgres://user:password@host:port/db?sslmode=…` URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname:
        raise ConfigError("a database URL is not a postgres:// URL", field="copy_data")
    env = {
        "PGHOST": parts.hostname,
        "PGPORT": str(parts.port or 5432),
        "PGDATABASE": unquote(parts.path.lstrip("/")),
        "PGUSER": unquote(parts.username or ""),
        "PGPASSWORD": unquote(parts.password or ""),
    }
    sslmode = parse_qs(parts.query).get("sslmode", [""])[0]
    env["PGSSLMODE"] = sslmode or ("prefer" if is_loopback_host(parts.hostname) else "require")
    return {k: v for k, v in env.items() if v}


def _scrubbed(text: str, secrets: Mapping[str, str]) -> str:
    for value in secrets.values():
        if value and len(value) >= 4:
            text = text.replace(value, "[secure]")
    return text.strip()[-600:]


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ConfigError(
            f"`{name}` is not installed; copying Postgres data needs it (Debian: apt-get install "
            "postgresql-client).",
            field="copy_data",
        )
    return path


def copy_database(source_url: str, target_url: str, *, timeout_s: float = COPY_TIMEOUT_S) -> None:
    """Dump the source database and load it into the target (whose objects it replaces)."""
    dump, load = _binary("pg_dump"), _binary("psql")
    source_env, target_env = pg_environment(source_url), pg_environment(target_url)
    base = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    secrets = {"source": source_url, "target": target_url}
    secrets |= {f"s{k}": v for k, v in source_env.items() if k == "PGPASSWORD"}
    secrets |= {f"t{k}": v for k, v in target_env.items() if k == "PGPASSWORD"}
    dumper = subprocess.Popen(
        [dump, "--no-owner", "--no-acl", "--clean", "--if-exists", "--format=plain"],
        env={**base, **source_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        loader = subprocess.run(
            [load, "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "--single-transaction"],
            env={**base, **target_env},
            stdin=dumper.stdout,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    finally:
        if dumper.stdout is not None:
            dumper.stdout.close()
        dump_err = dumper.stderr.read().decode("utf-8", "replace") if dumper.stderr else ""
        dump_code = dumper.wait(timeout=timeout_s)
        if dumper.stderr is not None:
            dumper.stderr.close()
    if dump_code != 0:
        raise PlatformError(f"pg_dump of the source database failed: {_scrubbed(dump_err, secrets)}")
    if loader.returncode != 0:
        err = loader.stderr.decode("utf-8", "replace")
        raise PlatformError(f"loading the copy into the new database failed: {_scrubbed(err, secrets)}")
