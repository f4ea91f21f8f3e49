"""HTTPS from the load generator is always verified; only the CA the platform hands over is added."""

from __future__ import annotations

from pathlib import Path

import pytest
from locust import FastHttpUser, HttpUser

from harness.emulator.tls import ensure_ca
from harness.load.locustfile import prepare_user_classes


class Plain(FastHttpUser):
    host = "https://example.invalid"


class OwnChoice(FastHttpUser):
    host = "https://example.invalid"
    insecure = True  # the locustfile's own decision is kept


class Requests(HttpUser):
    host = "https://example.invalid"


def test_fast_http_users_are_verified_even_without_a_ca() -> None:
    (prepared,) = prepare_user_classes([Plain], 10.0)
    assert FastHttpUser.insecure is True, "Locust's default: unverified"
    assert prepared.insecure is False
    context = prepared.ssl_context_factory()
    assert context.check_hostname and context.verify_mode.name == "CERT_REQUIRED"


def test_the_ca_given_is_trusted_besides_the_system_ones(tmp_path: Path) -> None:
    ca = ensure_ca(tmp_path)
    (prepared,) = prepare_user_classes([Plain], 10.0, ca_file=ca.cert_file)
    with_ca = prepared.ssl_context_factory().get_ca_certs()
    (bare,) = prepare_user_classes([Plain], 10.0)
    assert len(with_ca) == len(bare.ssl_context_factory().get_ca_certs()) + 1
    assert any("harness emulator local CA" in str(cert["subject"]) for cert in with_ca)


def test_a_locustfile_that_sets_insecure_itself_keeps_it() -> None:
    (prepared,) = prepare_user_classes([OwnChoice], 10.0)
    assert prepared.insecure is True


@pytest.mark.parametrize("ca", [False, True])
def test_requests_users_verify_with_the_ca_when_given(tmp_path: Path, ca: bool) -> None:
    from locust.env import Environment

    ca_file = ensure_ca(tmp_path).cert_file if ca else None
    (prepared,) = prepare_user_classes([Requests], 10.0, ca_file=ca_file)
    user = prepared(Environment(user_classes=[prepared]))
    assert user.client.verify == (str(ca_file) if ca else True)
