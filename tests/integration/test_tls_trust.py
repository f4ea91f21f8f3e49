"""Only an emulator target gets the emulator's CA: a Heroku target is verified with the system's CAs alone."""

from __future__ import annotations

import ssl

import httpx
import pytest

from harness.emulator import EmulatorProcess
from harness.platform.target import PlatformTarget, env_platform


def _trusted(target: PlatformTarget) -> int:
    return len(target.tls_verify().get_ca_certs())


def test_a_heroku_target_never_gets_the_emulator_ca(emulator: EmulatorProcess) -> None:
    heroku = env_platform({"HEROKU_API_URL": "https://api.heroku.com", "HEROKU_API_KEY": "x" * 36})
    try:
        assert not heroku.local and heroku.ca_file is None
        assert _trusted(heroku) == len(ssl.create_default_context().get_ca_certs())
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(emulator.web_url("harness-demo"), verify=heroku.tls_verify(), timeout=10)
    finally:
        heroku.client.close()


def test_an_emulator_the_user_runs_on_loopback_is_trusted(emulator: EmulatorProcess) -> None:
    local = env_platform({"HEROKU_API_URL": emulator.api_url, "HEROKU_API_KEY": emulator.token})
    try:
        assert local.local and local.ca_file == emulator.ca_file
        assert _trusted(local) == len(ssl.create_default_context().get_ca_certs()) + 1
        response = httpx.get(emulator.web_url("harness-demo"), verify=local.tls_verify(), timeout=10)
        assert response.status_code == 200
    finally:
        local.client.close()
