"""The emulator's one PostgreSQL server: a database and a role (random password) per heroku-postgresql add-on.

The server starts with the first add-on and stops with the last (or the
emulator): its data directory is a fresh temporary directory, so data lives
only as long as the add-ons. It listens on a free loopback port only (no Unix
socket), with scram-sha-256 for every connection; the emulator administers it
as a superuser whose password is never on a command line (psql reads it from
`PGPASSWORD`, SQL from stdin). Durability is switched off (`fsync=off`):
this is a test server, and it makes provisioning and writes fast.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path

from harness.emulator.addons_services import (
    AddonServiceError,
    ServiceProcess,
    ServiceUser,
    find_binary,
    private_dir,
    run_tool,
    service_user,
)

__all__ = ["PostgresDatabase", "PostgresServer"]

SERVICE = "heroku-postgresql"
ADMIN_USER = "emulator_admin"
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
}
READY_TRIES = 200


@dataclass(frozen=True)
class PostgresDatabase:
    """One add-on's database: its name, role and password, and the URL Heroku would set."""

    name: str
    role: str
    password: str
    port: int

    @property
    def url(self) -> str:
        """`postgres://role:password@127.0.0.1:port/name`, the shape of Heroku's DATABASE_URL."""
        return f"postgres://{self.role}:{self.password}@127.0.0.1:{self.port}/{self.name}"


def _identifier() -> str:
    """A role/database name like Heroku's: a letter, then lowercase hex."""
    return "u" + secrets.token_hex(7)


class PostgresServer(ServiceProcess):
    """A running `postgres` with its own data directory; `create_database` per add-on."""

    stop_signal = signal.SIGINT  # PostgreSQL's "fast" shutdown: it does not wait for clients to leave

    def __init__(self, *, workdir: Path, user: ServiceUser | None) -> None:
        super().__init__(name="postgres", workdir=workdir, user=user)
        self._admin_password = secrets.token_urlsafe(24)
        self._psql = find_binary("psql", package="postgresql", service=SERVICE)
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls) -> PostgresServer:
        """initdb into a fresh directory, start the server, wait until it answers SQL."""
        initdb = find_binary("initdb", package="postgresql", service=SERVICE)
        postgres = find_binary("postgres", package="postgresql", service=SERVICE)
        user = service_user("postgres", needed_by=SERVICE)
        server = cls(workdir=private_dir("harness-postgres-", user), user=user)
        try:
            await server._initdb(initdb)
            argv = [postgres, "-D", str(server.data_dir), "-p", str(server.port)]
            for key, value in SETTINGS.items():
                argv += ["-c", f"{key}={value}"]
            await server.launch(argv)
            await server._await_sql()
        except BaseException:
            await server.stop()
            raise
        return server

    @property
    def data_dir(self) -> str:
        return str(self.workdir / "data")

    async def _initdb(self, initdb: str) -> None:
        password_file = self.workdir / "admin-password"
        password_file.write_text(self._admin_password + "\n", "utf-8")
        if self.user is not None:
            os.chown(password_file, self.user.uid, self.user.gid)
        os.chmod(password_file, 0o600)
        argv = [initdb, "-D", self.data_dir, "-U", ADMIN_USER, f"--pwfile={password_file}"]
        argv += ["--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"]
        status, output = await run_tool(argv, user=self.user, env=self._env())
        password_file.unlink()
        if status != 0:
            raise AddonServiceError(f"initdb failed (status {status}) for {SERVICE}:\n{output[-2000:]}")

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.pop("HARNESS_EMULATOR_TOKEN", None)
        env["PGPASSWORD"] = self._admin_password
        env["LC_ALL"] = "C"
        return env

    async def sql(self, statements: str, *, database: str = "postgres", hide: str = "") -> str:
        """Run SQL as the admin (stop at the first error); its output, or `AddonServiceError`.

        psql quotes a failing statement; `hide` (a password in it) is masked in the error.
        """
        argv = [self._psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port)]
        argv += ["-U", ADMIN_USER, "-d", database, "-At", "-f", "-"]
        status, output = await run_tool(argv, user=None, env=self._env(), stdin=statements.encode())
        if status != 0:
            shown = output.replace(hide, "[secure]") if hide else output
            raise AddonServiceError(f"PostgreSQL refused an administration command: {shown[-1000:]}")
        return output

    async def _await_sql(self) -> None:
        for _ in range(READY_TRIES):
            try:
                await self.sql("SELECT 1;")
                return
            except AddonServiceError:
                if self.process is None or self.process.returncode is not None:
                    break
                await asyncio.sleep(0.1)
        raise AddonServiceError(f"PostgreSQL did not answer SQL. Its log:\n{self.log_tail()}")

    async def create_database(self) -> PostgresDatabase:
        """A new role (LOGIN, random password) owning a new database that only it may connect to."""
        database = PostgresDatabase(_identifier(), _identifier(), secrets.token_hex(16), self.port)
        async with self._lock:  # CREATE DATABASE copies template1: one at a time
            await self.sql(
                f"CREATE ROLE {database.role} LOGIN PASSWORD '{database.password}';\n"
                f"CREATE DATABASE {database.name} OWNER {database.role};\n"
                f"REVOKE ALL ON DATABASE {database.name} FROM PUBLIC;\n",
                hide=database.password,
            )
        return database

    async def drop_database(self, database: PostgresDatabase) -> None:
        """Drop the database (ending its connections) and its role: the add-on's data is gone."""
        async with self._lock:
            await self.sql(
                f"DROP DATABASE IF EXISTS {database.name} WITH (FORCE);\n"
                f"DROP ROLE IF EXISTS {database.role};\n"
            )
