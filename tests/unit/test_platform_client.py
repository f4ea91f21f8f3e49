"""The client's edge: headers, error mapping for every status class, retries, pacing, pagination.

These drive the client through httpx's own transport seam (`httpx.MockTransport`), which stands in
for the network, not for harness code; the same client is exercised over real HTTP against the
emulator in tests/integration/test_platform_*.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from harness.errors import (
    AuthError,
    InvalidParamsError,
    NotFoundError,
    PlatformError,
    PlatformUnavailableError,
    RateLimitError,
)
from harness.platform.auth import ApiToken
from harness.platform.heroku import (
    ACCEPT,
    HerokuClient,
    RetryPolicy,
    error_for_response,
    error_for_transport,
    obfuscate_headers,
)
from harness.platform.models import ProcessFormation

SECRET = "tok-5e5e5e5e-never-print-me"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A transport handler that answers from a script and keeps every request."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer


def client_for(recorder: Recorder, sleeps: list[float] | None = None, **retry: float) -> HerokuClient:
    policy = RetryPolicy(**retry)  # type: ignore[arg-type]
    return HerokuClient(
        ApiToken(SECRET),
        "https://api.example.test",
        transport=httpx.MockTransport(recorder),
        retry=policy,
        sleep=(sleeps.append if sleeps is not None else lambda _: None),
        jitter=lambda: 0.5,
    )


def answer(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


ACCOUNT = {"id": "a1", "email": "me@example.com", "name": None}


def test_headers_identify_harness_and_use_a_fresh_request_id() -> None:
    recorder = Recorder(answer(200, ACCOUNT))
    client = client_for(recorder)
    client.account()
    client.account()
    first, second = recorder.requests
    assert first.headers["Accept"] == ACCEPT
    assert first.headers["Authorization"] == f"Bearer {SECRET}"
    assert first.headers["User-Agent"].startswith("harness/")
    assert first.headers["Request-Id"] != second.headers["Request-Id"]


def test_repr_and_logged_headers_hide_the_token() -> None:
    client = client_for(Recorder(answer(200, ACCOUNT)))
    assert SECRET not in repr(client)
    logged = obfuscate_headers([("Authorization", f"Bearer {SECRET}"), ("Accept", ACCEPT)])
    assert logged == [("Authorization", "[secure]"), ("Accept", ACCEPT)]


def test_request_logging_never_shows_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="harness.platform")
    client_for(Recorder(answer(200, ACCOUNT))).account()
    assert caplog.records
    assert SECRET not in caplog.text


def expected_class(status: int) -> type[PlatformError]:
    special: dict[int, type[PlatformError]] = {
        401: AuthError,
        403: AuthError,
        404: NotFoundError,
        422: InvalidParamsError,
        429: RateLimitError,
    }
    return special.get(status, PlatformUnavailableError if status >= 500 else PlatformError)


@pytest.mark.parametrize("status", [*range(400, 432), *range(500, 512)])
def test_every_error_status_maps_to_a_platform_error(status: int) -> None:
    request = httpx.Request("GET", "https://api.example.test/apps/x")
    response = httpx.Response(
        status, json={"id": "some_id", "message": f"went wrong {status}"}, request=request
    )
    error = error_for_response(response, "req-1", app="x")
    assert type(error) is expected_class(status)
    assert (error.status, error.error_id, error.request_id, error.app) == (status, "some_id", "req-1", "x")
    assert f"went wrong {status}" in str(error)
    assert "req-1" in str(error)


def test_error_body_that_is_not_json_still_maps() -> None:
    request = httpx.Request("GET", "https://api.example.test/account")
    error = error_for_response(httpx.Response(502, text="<html>Bad gateway</html>", request=request), "r")
    assert isinstance(error, PlatformUnavailableError)
    assert error.error_id is None
    assert "Bad gateway" in str(error)


TRANSPORT_ERRORS: list[Exception] = [
    httpx.ConnectError("refused"),
    httpx.ConnectTimeout("slow"),
    httpx.ReadTimeout("slow"),
    httpx.WriteTimeout("slow"),
    httpx.PoolTimeout("slow"),
    httpx.ReadError("reset"),
    httpx.WriteError("reset"),
    httpx.RemoteProtocolError("bad"),
    httpx.LocalProtocolError("bad"),
    httpx.ProxyError("proxy"),
]


@pytest.mark.parametrize("exc", TRANSPORT_ERRORS, ids=lambda e: type(e).__name__)
def test_every_transport_error_maps_to_unavailable(exc: Exception) -> None:
    error = error_for_transport(exc, "req-2")  # type: ignore[arg-type]
    assert isinstance(error, PlatformUnavailableError)
    assert error.request_id == "req-2"


@pytest.mark.parametrize(
    "exc",
    [
        httpx.UnsupportedProtocol("ftp"),
        httpx.InvalidURL("bad"),
        httpx.DecodingError("gz"),
        httpx.TooManyRedirects("loop"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_httpx_errors_map_to_a_non_retryable_platform_error(exc: Exception) -> None:
    error = error_for_transport(exc, "req-3")  # type: ignore[arg-type]
    assert type(error) is PlatformError


def test_get_retries_5xx_with_growing_backoff_then_succeeds() -> None:
    recorder = Recorder(answer(500, {"id": "internal_server_error"}), answer(503), answer(200, ACCOUNT))
    sleeps: list[float] = []
    account = client_for(recorder, sleeps, backoff_initial_s=1.0).account()
    assert account.email == "me@example.com"
    assert len(recorder.requests) == 3
    assert sleeps == [0.75, 1.5]  # 1 s, 2 s, each × jitter factor 0.75


def test_get_retries_connection_errors() -> None:
    recorder = Recorder(httpx.ConnectError("refused"), answer(200, ACCOUNT))
    assert client_for(recorder).account().id == "a1"
    assert len(recorder.requests) == 2


def test_retries_stop_after_max_attempts() -> None:
    recorder = Recorder(answer(503, {"id": "unavailable", "message": "down"}))
    with pytest.raises(PlatformUnavailableError, match="down"):
        client_for(recorder, max_attempts=3).account()
    assert len(recorder.requests) == 3


def test_retries_stop_when_the_budget_is_spent() -> None:
    recorder = Recorder(answer(503))
    with pytest.raises(PlatformUnavailableError):
        client_for(recorder, max_attempts=50, backoff_initial_s=4, budget_s=5).account()
    assert len(recorder.requests) == 2  # 3 s waited; the next wait (6 s) would pass the budget


def test_patch_of_absolute_formation_is_retried_and_post_is_not() -> None:
    formation = [{"type": "web", "quantity": 2, "dyno_size": {"name": "Standard-2X"}, "size": "Standard-2X"}]
    recorder = Recorder(answer(503), answer(200, formation))
    entries = client_for(recorder).update_formation(
        "app-x", [ProcessFormation(type="web", quantity=2, size="Standard-2X")]
    )
    assert [e.quantity for e in entries] == [2]
    assert json.loads(recorder.requests[0].content) == {
        "updates": [{"type": "web", "quantity": 2, "dyno_size": {"name": "Standard-2X"}}]
    }
    post = Recorder(answer(503))
    with pytest.raises(PlatformUnavailableError):
        client_for(post).create_log_session("app-x", tail=True)
    assert len(post.requests) == 1


def test_client_errors_are_not_retried() -> None:
    recorder = Recorder(answer(404, {"id": "not_found", "message": "Couldn't find that app."}))
    with pytest.raises(NotFoundError, match="Couldn't find that app"):
        client_for(recorder).app("nope")
    assert len(recorder.requests) == 1


def test_429_is_retried_and_waits_at_least_a_token_refill() -> None:
    recorder = Recorder(
        answer(429, {"id": "rate_limit"}, {"RateLimit-Remaining": "0"}),
        answer(200, ACCOUNT, {"RateLimit-Remaining": "3000"}),
    )
    sleeps: list[float] = []
    client_for(recorder, sleeps, backoff_initial_s=0.1, pace_s=0.8).account()
    assert len(recorder.requests) == 2
    assert sleeps[-1] >= 0.8


def test_low_remaining_slows_the_next_request_down() -> None:
    recorder = Recorder(answer(200, ACCOUNT, {"RateLimit-Remaining": "10"}))
    sleeps: list[float] = []
    client = client_for(recorder, sleeps, low_remaining=50, pace_s=1.0)
    client.account()
    assert sleeps == []
    client.account()
    assert sleeps == [pytest.approx(0.8)]  # (1 − 10/50) × 1 s
    assert client.rate_limit_remaining == 10


def test_lists_follow_next_range() -> None:
    def page(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Range") == "id ]d2..; max=2":
            return answer(200, [dyno("d3")])
        return answer(206, [dyno("d1"), dyno("d2")], {"Next-Range": "id ]d2..; max=2"})

    recorder = Recorder(page)
    dynos = client_for(recorder).dynos("app-x")
    assert [d.id for d in dynos] == ["d1", "d2", "d3"]
    assert "Range" not in recorder.requests[0].headers


def dyno(dyno_id: str) -> dict[str, object]:
    return {"id": dyno_id, "name": f"web.{dyno_id}", "type": "web", "state": "up"}


def test_releases_ask_newest_first() -> None:
    releases = [{"id": "r2", "version": 2, "current": True}, {"id": "r1", "version": 1}]
    recorder = Recorder(answer(200, releases))
    current = client_for(recorder).current_release("app-x")
    assert current is not None and current.version == 2
    assert recorder.requests[0].headers["Range"] == "version ..; max=25, order=desc"


def test_config_var_names_only() -> None:
    recorder = Recorder(answer(200, {"SECRET_KEY": "value-never-kept", "DATABASE_URL": "postgres://x"}))
    assert client_for(recorder).config_var_names("app-x") == ["DATABASE_URL", "SECRET_KEY"]


def test_unexpected_shapes_are_platform_errors() -> None:
    with pytest.raises(PlatformError, match="unexpected shape"):
        client_for(Recorder(answer(200, {"email": "x"}))).account()
    with pytest.raises(PlatformError, match="not JSON"):
        client_for(Recorder(httpx.Response(200, text="<html>"))).account()
    with pytest.raises(PlatformError, match="not a list"):
        client_for(Recorder(answer(200, {"id": "x"}))).dynos("app-x")


def test_app_names_are_path_quoted() -> None:
    recorder = Recorder(answer(404, {"id": "not_found", "message": "no"}))
    with pytest.raises(NotFoundError):
        client_for(recorder).app("../account")
    assert recorder.requests[0].url.raw_path == b"/apps/..%2Faccount"


def test_retry_policy_from_env() -> None:
    policy = RetryPolicy.from_env({"HARNESS_API_TIMEOUT_S": "2.5", "HARNESS_API_MAX_ATTEMPTS": "2"})
    assert (policy.timeout_s, policy.max_attempts) == (2.5, 2)
    with pytest.raises(PlatformError, match="HARNESS_API"):
        RetryPolicy.from_env({"HARNESS_API_MAX_ATTEMPTS": "zero"})
