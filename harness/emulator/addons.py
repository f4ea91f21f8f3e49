"""Add-ons that are real services: the plan catalog, attachment names, and the services behind them.

`heroku-postgresql` gets a database and role of the emulator's one PostgreSQL
server (`addons_postgres.py`); `heroku-redis` gets a `redis-server` of its
own (`addons_services.py`). A plan is named as on Heroku
(`heroku-postgresql:essential-0`; the service alone means its smallest plan),
recorded and listed with its monthly price; plans do not change what runs
locally except Redis's memory limit.

Config vars follow Heroku's attachment rules: the first Postgres add-on of an
app is attached as `DATABASE` (`DATABASE_URL`) and every one also as
`HEROKU_POSTGRESQL_<COLOR>` (`..._URL`); the first Redis add-on as `REDIS`
(`REDIS_URL`), later ones as `HEROKU_REDIS_<COLOR>`. An `attachment.name` given
at creation replaces the default name.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from harness.emulator.addons_postgres import PostgresDatabase, PostgresServer
from harness.emulator.addons_services import RedisServer
from harness.emulator.api_error import invalid

__all__ = ["AddonServices", "ServicePlan", "attachment_names", "find_plan"]

POSTGRES = "heroku-postgresql"
REDIS = "heroku-redis"
# Monthly prices in cents (Heroku's list prices); Redis plans also carry their memory limit (MB).
CATALOG: Mapping[str, Mapping[str, tuple[int, int]]] = {
    POSTGRES: {
        "essential-0": (500, 0),
        "essential-1": (900, 0),
        "essential-2": (2000, 0),
        "standard-0": (5000, 0),
        "premium-0": (20000, 0),
    },
    REDIS: {
        "mini": (300, 25),
        "premium-0": (1500, 50),
        "premium-1": (3000, 100),
        "premium-2": (6000, 250),
    },
}
COLORS = (
    "AMBER", "BLACK", "BLUE", "BRONZE", "CHARCOAL", "COBALT", "COPPER", "CRIMSON", "CYAN", "GOLD",
    "GRAY", "GREEN", "IVORY", "JADE", "MAROON", "NAVY", "OLIVE", "ONYX", "ORANGE", "PINK",
    "PUCE", "PURPLE", "RED", "ROSE", "SILVER", "TEAL", "WHITE", "YELLOW",
)  # fmt: skip
ATTACHMENT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class ServicePlan:
    """One plan of the catalog: `heroku-postgresql:essential-0`, its price and (Redis) memory limit."""

    service: str
    plan: str
    price_cents: int
    memory_mb: int

    @property
    def name(self) -> str:
        return f"{self.service}:{self.plan}"


def find_plan(identity: str) -> ServicePlan:
    """`service:plan` (or `service`, meaning its first plan) from the catalog; 422 naming what exists."""
    service, _, plan = identity.strip().partition(":")
    plans = CATALOG.get(service)
    if plans is None:
        raise invalid(
            f"Couldn't find either the add-on service or the add-on plan of {identity!r}: "
            f"the emulator provisions {' and '.join(CATALOG)} (e.g. {POSTGRES}:essential-0)."
        )
    plan = plan or next(iter(plans))
    if plan not in plans:
        raise invalid(f"Couldn't find add-on plan {identity!r}. Plans of {service}: {', '.join(plans)}.")
    price, memory = plans[plan]
    return ServicePlan(service, plan, price, memory)


def attachment_names(service: str, config: Mapping[str, str], requested: str | None) -> list[str]:
    """The attachment names (config var = name + `_URL`) a new add-on of `service` gets on an app."""
    if requested is not None:
        if not ATTACHMENT_NAME.match(requested):
            raise invalid(
                "Attachment name must start with an uppercase letter and contain only uppercase "
                "letters, digits and underscores."
            )
        if f"{requested}_URL" in config:
            raise invalid(f"{requested}_URL is already set on this app: choose another attachment name.")
        return [requested]
    prefix, primary = ("HEROKU_POSTGRESQL", "DATABASE") if service == POSTGRES else ("HEROKU_REDIS", "REDIS")
    color = next((f"{prefix}_{c}" for c in COLORS if f"{prefix}_{c}_URL" not in config), None)
    if color is None:
        raise invalid(f"This app has an add-on of every color of {service}: remove one first.")
    if f"{primary}_URL" not in config:
        return [primary, color] if service == POSTGRES else [primary]
    return [color]


class AddonServices:
    """The services behind the emulator's add-ons: one PostgreSQL server, one redis-server per add-on."""

    def __init__(self) -> None:
        self._postgres: PostgresServer | None = None
        self._databases: dict[str, PostgresDatabase] = {}
        self._redis: dict[str, RedisServer] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    async def provision(self, addon_id: str, plan: ServicePlan) -> tuple[str, str]:
        """Start what `plan` needs for add-on `addon_id`: (its URL, a one-line provision message)."""
        if self._closed:
            raise RuntimeError("the emulator is shutting down")
        if plan.service == POSTGRES:
            server = await self._postgres_server()
            database = await server.create_database()
            self._databases[addon_id] = database
            return database.url, f"PostgreSQL database {database.name} on 127.0.0.1:{server.port}."
        password = secrets.token_hex(24)
        redis = await RedisServer.start(password=password, maxmemory_mb=plan.memory_mb)
        self._redis[addon_id] = redis
        return (
            f"redis://:{password}@127.0.0.1:{redis.port}",
            f"redis-server on 127.0.0.1:{redis.port} ({plan.memory_mb} MB, not persisted).",
        )

    async def _postgres_server(self) -> PostgresServer:
        async with self._lock:
            if self._postgres is None:
                self._postgres = await PostgresServer.start()
            return self._postgres

    async def deprovision(self, addon_id: str) -> None:
        """Drop the add-on's database (the server stops with the last one) or stop its redis-server."""
        redis = self._redis.pop(addon_id, None)
        if redis is not None:
            await redis.stop()
        database = self._databases.pop(addon_id, None)
        if database is None:
            return
        async with self._lock:
            server = self._postgres
            if server is None:
                return
            if self._databases:
                await server.drop_database(database)
            else:  # the last one: stopping the server removes its data directory with every database
                self._postgres = None
                await server.stop()

    def pids(self) -> list[int]:
        """Process ids of every running service (for checks that nothing outlives the emulator)."""
        running = [*self._redis.values(), *([self._postgres] if self._postgres else [])]
        return [s.pid for s in running if s.pid is not None]

    async def close(self) -> None:
        """Stop every service (and remove its data): the emulator is stopping."""
        self._closed = True
        for addon_id in [*self._redis, *self._databases]:
            await self.deprovision(addon_id)
        async with self._lock:
            if self._postgres is not None:
                server, self._postgres = self._postgres, None
                await server.stop()
