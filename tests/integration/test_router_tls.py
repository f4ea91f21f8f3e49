"""TLS at the router, as on Heroku: HTTPS and HTTP on one port; X-Forwarded-Proto says which."""

from __future__ import annotations

import re
import ssl
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from locust import FastHttpUser
from locust.contrib.fasthttp import FastHttpSession
from locust.event import Events

from harness.load.locustfile import prepare_user_classes
from tests.integration.helpers import ECHO_APP
from tests.integration.runtime_driver import RuntimeProcess


@pytest.fixture(params=["asyncio", "uvloop"])
def tls_echo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[RuntimeProcess, Path]]:
    """The echo app behind a TLS router, on both event loops; yields it and its home's CA file."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(textwrap.dedent(ECHO_APP))
    (app / "Procfile").write_text("web: python app.py\n")
    home = tmp_path / "home"
    runtime = RuntimeProcess(app, loop=request.param, tls_home=home)
    runtime.call("formation", type="web", quantity=1)
    runtime.call("wait", type="web", count=1)
    try:
        yield runtime, home / "tls" / "ca.pem"
    finally:
        runtime.close()


def _forwarded(url: str, verify: ssl.SSLContext | bool) -> dict[str, str]:
    seen = httpx.get(url, verify=verify, timeout=10).json()["headers"]
    return {k.lower(): v for k, v in seen.items()}


def test_https_with_the_home_ca_and_http_on_the_same_port(tls_echo: tuple[RuntimeProcess, Path]) -> None:
    runtime, ca_file = tls_echo
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+/", runtime.web_url)
    port = runtime.web_url.rsplit(":", 1)[1].strip("/")
    trusted = ssl.create_default_context(cafile=str(ca_file))
    over_tls = _forwarded(runtime.web_url, trusted)
    assert over_tls["x-forwarded-proto"] == "https" and over_tls["x-forwarded-port"] == port
    plain = _forwarded(runtime.web_url.replace("https://", "http://"), True)
    assert plain["x-forwarded-proto"] == "http" and plain["x-forwarded-port"] == port
    # keep-alive over TLS: several requests on one verified connection
    with httpx.Client(verify=trusted, timeout=10) as client:
        assert {client.get(runtime.web_url).status_code for _ in range(5)} == {200}
    lines = runtime.call("logs", source="heroku", dyno="router")
    protocols = [line.rsplit("protocol=", 1)[1] for line in lines]
    assert protocols.count("https") == 6 and protocols.count("http") == 1


def test_a_client_that_does_not_trust_the_ca_is_refused(tls_echo: tuple[RuntimeProcess, Path]) -> None:
    runtime, ca_file = tls_echo
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(runtime.web_url, timeout=10)  # the system's CAs only
    # the router goes on serving after a failed handshake
    assert (
        httpx.get(runtime.web_url, verify=ssl.create_default_context(cafile=str(ca_file))).status_code == 200
    )


def test_the_certificate_names_every_loopback_host(tls_echo: tuple[RuntimeProcess, Path]) -> None:
    runtime, ca_file = tls_echo
    trusted = ssl.create_default_context(cafile=str(ca_file))
    by_name = runtime.web_url.replace("127.0.0.1", "localhost")
    assert httpx.get(by_name, verify=trusted, timeout=10).status_code == 200


class _Shop(FastHttpUser):
    host = "https://127.0.0.1"


def _fast_get(url: str, ca_file: Path | None) -> tuple[int, Exception | None]:
    """One GET through Locust's FastHttpUser client, its class prepared as harness prepares it."""
    (prepared,) = prepare_user_classes([_Shop], 10.0, ca_file=ca_file)
    session = FastHttpSession(
        url.rstrip("/"),
        request_event=Events().request,
        user=None,
        insecure=prepared.insecure,
        ssl_context_factory=prepared.ssl_context_factory,
    )
    try:
        response = session.get("/")
    finally:
        session.client.clientpool.close()
    return response.status_code, getattr(response, "error", None)


def test_locust_users_verify_https_and_trust_only_the_ca_given(tls_echo: tuple[RuntimeProcess, Path]) -> None:
    runtime, ca_file = tls_echo
    assert _fast_get(runtime.web_url, ca_file) == (200, None)
    status, error = _fast_get(runtime.web_url, None)  # a real Heroku target: system CAs only, verified
    assert status == 0 and "CERTIFICATE_VERIFY_FAILED" in str(error)
