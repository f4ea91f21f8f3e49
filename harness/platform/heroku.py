"""The Heroku Platform API client: one code path for api.heroku.com and the emulator.

The seam is the base URL (`HEROKU_API_URL`, default https://api.heroku.com)
plus an optional `httpx.Client`/transport; there is no `if local:` anywhere.
Foreign failures are translated once, here, into `harness.errors`
(`error_for_response`, `error_for_transport`). Only idempotent calls (GET and
absolute PATCH) are retried, with exponential backoff and jitter, on
connection errors, 429 and 5xx; a POST that creates something is never
retried. When `RateLimit-Remaining` runs low the client paces itself (the
bucket refills at ~75 tokens/min, NOTES §1.4). Lists follow `Next-Range`.
The token is an `ApiToken`; logged requests show `Authorization: [secure]`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness import __version__
from harness.errors import (
    AuthError,
    InvalidParamsError,
    NotFoundError,
    PlatformError,
    PlatformUnavailableError,
    RateLimitError,
    sentence,
)
from harness.platform.auth import ApiToken, find_token
from harness.platform.models import (
    Account,
    AddOn,
    App,
    Dyno,
    DynoSize,
    FormationEntry,
    LogSession,
    ProcessFormation,
    Release,
    Slug,
)

__all__ = [
    "ACCEPT",
    "DEFAULT_API_URL",
    "HerokuClient",
    "RetryPolicy",
    "error_for_response",
    "error_for_transport",
    "is_loopback_host",
    "obfuscate_headers",
]

DEFAULT_API_URL = "https://api.heroku.com"
ACCEPT = "application/vnd.heroku+json; version=3"
_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_MAX_PAGES = 200  # 200 pages × 1000 items: far beyond any app's dynos or releases

log = logging.getLogger("harness.platform")
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class RetryPolicy(BaseModel):
    """How hard the client tries: attempts, backoff in seconds, a total budget per call, pacing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=6, ge=1)
    backoff_initial_s: float = Field(default=0.5, ge=0)  # first wait; doubles per attempt
    backoff_max_s: float = Field(default=8.0, ge=0)  # cap of one wait
    budget_s: float = Field(default=60.0, gt=0)  # no retry starts after this long since the first try
    timeout_s: float = Field(default=30.0, gt=0)  # one request (connect, read, write)
    low_remaining: int = Field(default=50, ge=0)  # RateLimit-Remaining below this → slow down
    pace_s: float = Field(default=0.8, ge=0)  # pause at an empty bucket: one token's refill time

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RetryPolicy:
        """The defaults, overridden by `HARNESS_API_TIMEOUT_S`, `HARNESS_API_MAX_ATTEMPTS`,
        `HARNESS_API_BACKOFF_S` and `HARNESS_API_RETRY_BUDGET_S`."""
        env = os.environ if environ is None else environ
        names = {
            "timeout_s": "HARNESS_API_TIMEOUT_S",
            "max_attempts": "HARNESS_API_MAX_ATTEMPTS",
            "backoff_initial_s": "HARNESS_API_BACKOFF_S",
            "budget_s": "HARNESS_API_RETRY_BUDGET_S",
        }
        values = {field: env[var] for field, var in names.items() if env.get(var)}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise PlatformError(f"Invalid HARNESS_API_* setting: {exc.errors()[0]['msg']}") from None

    def backoff_s(self, attempt: int, jitter: float) -> float:
        """The wait after failed attempt `attempt` (1-based); `jitter` in [0, 1) spreads it over [½, 1]×."""
        return min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** (attempt - 1)) * (0.5 + jitter / 2)


def obfuscate_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers safe to log: credentials replaced by `[secure]`."""
    return [(k, "[secure]" if k.lower() in _SENSITIVE_HEADERS else v) for k, v in headers]


def is_loopback_host(host: str | None) -> bool:
    """Whether `host` (no port) is this machine: localhost, *.localhost, 127.0.0.0/8 or ::1."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _body_of(response: httpx.Response) -> tuple[str | None, str]:
    """The Heroku error `id` and message of a failed response (or a short text excerpt)."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        error_id = body.get("id") if isinstance(body.get("id"), str) else None
        message = body.get("message") if isinstance(body.get("message"), str) else None
        return error_id, message or response.reason_phrase
    text = response.text.strip().replace("\n", " ")
    return None, (text[:200] or response.reason_phrase)


def error_for_response(response: httpx.Response, request_id: str, app: str | None = None) -> PlatformError:
    """The one mapping from a non-2xx answer to a `PlatformError` subclass, with what to do."""
    status = response.status_code
    error_id, message = _body_of(response)
    what = f"{response.request.method} {response.request.url.path}"
    head = f"{what} answered {status} {error_id or ''}".rstrip() + f": {sentence(message)}"
    kinds: list[tuple[bool, type[PlatformError], str]] = [
        (
            status == 401,
            AuthError,
            " The token was rejected: set a valid one in HEROKU_API_KEY (`heroku auth:token`) or run "
            "`heroku login`.",
        ),
        (
            status == 403,
            AuthError,
            " The token has no access to this resource: use a token of an account that collaborates "
            "on the app.",
        ),
        (status == 404, NotFoundError, " Check the app name (`heroku apps`) and HEROKU_API_URL."),
        (status == 422, InvalidParamsError, " The API refused the parameters; fix them and try again."),
        (status == 429, RateLimitError, " The account's API rate limit is exhausted; wait a few minutes."),
        (
            status >= 500,
            PlatformUnavailableError,
            " The platform is failing; retry later (status.heroku.com).",
        ),
    ]
    cls, hint = next(((c, h) for match, c, h in kinds if match), (PlatformError, ""))
    return cls(head + hint, status=status, error_id=error_id, request_id=request_id, app=app)


def error_for_transport(
    exc: httpx.HTTPError | httpx.InvalidURL, request_id: str, app: str | None = None
) -> PlatformError:
    """The one mapping from an httpx failure without an answer to a `PlatformError` subclass."""
    name = type(exc).__name__
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return PlatformError(
            f"The API URL is not usable ({name}): set HEROKU_API_URL to an http(s) URL.",
            request_id=request_id,
            app=app,
        )
    if isinstance(exc, httpx.TransportError):
        return PlatformUnavailableError(
            f"The Platform API could not be reached ({name}: {exc}). Check the network and HEROKU_API_URL.",
            request_id=request_id,
            app=app,
        )
    return PlatformError(
        f"The Platform API answer could not be read ({name}).", request_id=request_id, app=app
    )


def _retryable(error: PlatformError) -> bool:
    return isinstance(error, PlatformUnavailableError | RateLimitError)


def _segment(value: str) -> str:
    return quote(value, safe="")


class HerokuClient:
    """A synchronous Platform API client returning typed models (cooperative under gevent)."""

    def __init__(
        self,
        token: ApiToken,
        base_url: str | None = None,
        *,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.base_url = (base_url or DEFAULT_API_URL).rstrip("/")
        self.retry = retry or RetryPolicy()
        self._token = token
        self._owns_http = http is None
        self._http = http or httpx.Client(transport=transport, timeout=self.retry.timeout_s)
        self._sleep = sleep
        self._jitter = jitter
        self.rate_limit_remaining: int | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> HerokuClient:
        """A client configured like the Heroku CLI: `HEROKU_API_URL`, `HEROKU_API_KEY` or netrc."""
        env = os.environ if environ is None else environ
        base_url = env.get("HEROKU_API_URL") or DEFAULT_API_URL
        host = urlsplit(base_url).hostname or "api.heroku.com"
        token = find_token(env, host="api.heroku.com" if not is_loopback_host(host) else host)
        kwargs.setdefault("retry", RetryPolicy.from_env(env))
        return cls(token, base_url, **kwargs)

    def __repr__(self) -> str:
        return f"HerokuClient({self.base_url!r}, token={self._token!r})"

    @property
    def api_host(self) -> str:
        """`host[:port]` of the API, recorded in journals so a restore talks to the same platform."""
        return urlsplit(self.base_url).netloc

    @property
    def is_loopback(self) -> bool:
        """Whether the API is on this machine (the emulator): loopback load targets are then allowed."""
        return is_loopback_host(urlsplit(self.base_url).hostname)

    def close(self) -> None:
        """Close the connection pool (only if this client created it)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the edge: one request, retried when that is safe ---------------------------------------------

    def _headers(self, request_id: str, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {
            "Accept": ACCEPT,
            "User-Agent": f"harness/{__version__} httpx/{httpx.__version__}",
            "Authorization": f"Bearer {self._token.reveal()}",
            "Request-Id": request_id,
        }
        headers.update(extra or {})
        return headers

    def _pace(self) -> None:
        """Slow down proportionally as the rate-limit bucket nears empty, before it answers 429."""
        remaining, low = self.rate_limit_remaining, self.retry.low_remaining
        if remaining is not None and remaining < low:
            self._sleep(self.retry.pace_s * (1 - remaining / low))

    def _note_rate_limit(self, response: httpx.Response) -> None:
        value = response.headers.get("RateLimit-Remaining")
        if value is not None and value.strip().isdigit():
            self.rate_limit_remaining = int(value)

    def _attempt(
        self, method: str, url: str, body: Any, headers: Mapping[str, str] | None, app: str | None
    ) -> tuple[httpx.Response | None, PlatformError | None]:
        request_id = str(uuid.uuid4())
        sent = self._headers(request_id, headers)
        log.debug("%s %s headers=%s", method, url, obfuscate_headers(sent.items()))
        try:
            response = self._http.request(method, url, json=body, headers=sent)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return None, error_for_transport(exc, request_id, app)
        log.debug("%s %s -> %s (request id %s)", method, url, response.status_code, request_id)
        self._note_rate_limit(response)
        if response.is_success:
            return response, None
        return response, error_for_response(response, request_id, app)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        app: str | None = None,
    ) -> httpx.Response:
        """Send one API call; retry it through 429/5xx/connection errors only if `idempotent`."""
        started, attempt = time.monotonic(), 0
        while True:
            attempt += 1
            self._pace()
            response, error = self._attempt(method, self.base_url + path, body, headers, app)
            if error is None and response is not None:
                return response
            assert error is not None
            if not (idempotent and _retryable(error) and attempt < self.retry.max_attempts):
                raise error
            delay = self._retry_delay(attempt, response)
            if time.monotonic() - started + delay > self.retry.budget_s:
                raise error
            log.info("retrying %s %s in %.1fs after: %s", method, path, delay, error)
            self._sleep(delay)

    def _retry_delay(self, attempt: int, response: httpx.Response | None) -> float:
        delay = self.retry.backoff_s(attempt, self._jitter())
        retry_after = response.headers.get("Retry-After", "") if response is not None else ""
        if retry_after.strip().isdigit():
            delay = max(delay, min(float(retry_after), self.retry.backoff_max_s))
        elif response is not None and response.status_code == 429:
            delay = max(delay, self.retry.pace_s)
        return delay

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise PlatformError(
                f"{response.request.method} {response.request.url.path} answered {response.status_code} "
                "with a body that is not JSON; is HEROKU_API_URL a Platform API?",
                status=response.status_code,
                request_id=response.request.headers.get("Request-Id"),
            ) from None

    def _parse(self, model: type[M], response: httpx.Response) -> M:
        return self._validated(response, lambda: model.model_validate(self._json(response)))

    def _parse_list(self, model: type[M], items: list[Any], response: httpx.Response) -> list[M]:
        return self._validated(response, lambda: [model.model_validate(item) for item in items])

    def _validated(self, response: httpx.Response, build: Callable[[], T]) -> T:
        """`build()`, with a response that does not fit the model reported as a PlatformError."""
        try:
            return build()
        except ValidationError as exc:
            first = exc.errors()[0]
            raise PlatformError(
                f"{response.request.method} {response.request.url.path} answered in an unexpected shape "
                f"(field {'.'.join(str(p) for p in first['loc'])}: {first['msg']}).",
                status=response.status_code,
                request_id=response.request.headers.get("Request-Id"),
            ) from None

    def _get(self, model: type[M], path: str, app: str | None = None) -> M:
        return self._parse(model, self.request("GET", path, idempotent=True, app=app))

    def _list(
        self, model: type[M], path: str, *, app: str | None = None, range_: str | None = None
    ) -> list[M]:
        """GET a list, following `Next-Range` on 206 answers."""
        items: list[Any] = []
        response: httpx.Response | None = None
        for _ in range(_MAX_PAGES):
            headers = {"Range": range_} if range_ else None
            response = self.request("GET", path, headers=headers, idempotent=True, app=app)
            page = self._json(response)
            if not isinstance(page, list):
                raise PlatformError(f"GET {path} answered with a {type(page).__name__}, not a list.")
            items.extend(page)
            next_range = response.headers.get("Next-Range")
            if response.status_code != 206 or not next_range:
                break
            range_ = next_range
        assert response is not None
        return self._parse_list(model, items, response)

    # -- operations -----------------------------------------------------------------------------------

    def account(self) -> Account:
        """Who the token belongs to: the cheap token check."""
        return self._get(Account, "/account")

    def app(self, app: str) -> App:
        """App info: web_url, stack, region, maintenance."""
        return self._get(App, f"/apps/{_segment(app)}", app)

    def formation(self, app: str) -> list[FormationEntry]:
        """Every process type with quantity and size."""
        return self._list(FormationEntry, f"/apps/{_segment(app)}/formation", app=app)

    def update_formation(self, app: str, processes: Iterable[ProcessFormation]) -> list[FormationEntry]:
        """One batch PATCH with absolute quantities and sizes (idempotent, so retried)."""
        updates = [{"type": p.type, "quantity": p.quantity, "dyno_size": {"name": p.size}} for p in processes]
        response = self.request(
            "PATCH", f"/apps/{_segment(app)}/formation", body={"updates": updates}, idempotent=True, app=app
        )
        return self._parse_list(FormationEntry, self._json(response), response)

    def dynos(self, app: str) -> list[Dyno]:
        """Every dyno with its state and release."""
        return self._list(Dyno, f"/apps/{_segment(app)}/dynos", app=app)

    def releases(self, app: str, limit: int | None = None) -> list[Release]:
        """Releases, newest first (`Range: version ..; order=desc`, all pages unless `limit`)."""
        range_ = f"version ..; max={limit}, order=desc" if limit else "version ..; order=desc"
        releases = self._list(Release, f"/apps/{_segment(app)}/releases", app=app, range_=range_)
        releases.sort(key=lambda r: r.version, reverse=True)
        return releases[:limit] if limit else releases

    def current_release(self, app: str) -> Release | None:
        """The release the app runs (flagged `current`, else the newest succeeded); None if never deployed."""
        recent = self.releases(app, limit=25)
        return next((r for r in recent if r.current), None) or next(
            (r for r in recent if r.status in (None, "succeeded")), None
        )

    def slug(self, app: str, slug_id: str) -> Slug:
        """The slug of a release: commit, size, process types."""
        return self._get(Slug, f"/apps/{_segment(app)}/slugs/{_segment(slug_id)}", app)

    def config_var_names(self, app: str) -> list[str]:
        """The names of the app's config vars; the values are dropped as soon as they arrive."""
        response = self.request("GET", f"/apps/{_segment(app)}/config-vars", idempotent=True, app=app)
        data = self._json(response)
        if not isinstance(data, dict):
            raise PlatformError(
                f"GET /apps/{app}/config-vars answered with a {type(data).__name__}.", app=app
            )
        return sorted(data)

    def addons(self, app: str) -> list[AddOn]:
        """The app's add-ons (service and plan)."""
        return self._list(AddOn, f"/apps/{_segment(app)}/addons", app=app)

    def dyno_sizes(self) -> list[DynoSize]:
        """Every dyno size with its live price."""
        return self._list(DynoSize, "/dyno-sizes")

    def create_log_session(
        self,
        app: str,
        *,
        dyno_name: str | None = None,
        lines: int | None = None,
        source: str | None = None,
        tail: bool = False,
    ) -> LogSession:
        """A log session URL (a POST that creates: never retried)."""
        body: dict[str, Any] = {"tail": tail}
        optional = {"dyno_name": dyno_name, "lines": lines, "source": source}
        body.update({k: v for k, v in optional.items() if v is not None})
        response = self.request(
            "POST", f"/apps/{_segment(app)}/log-sessions", body=body, idempotent=False, app=app
        )
        return self._parse(LogSession, response)
