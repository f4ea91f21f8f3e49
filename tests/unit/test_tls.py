"""The emulator home's CA: made once, its key private, router certificates for every loopback name."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
import threading
from pathlib import Path

from cryptography import x509

from harness.emulator.home import HOME_ENV, emulator_home
from harness.emulator.tls import LocalCA, ensure_ca


def test_the_ca_is_made_once_per_home_with_a_private_key(tmp_path: Path) -> None:
    first = ensure_ca(tmp_path)
    again = ensure_ca(tmp_path)
    assert first.certificate == again.certificate
    assert stat.S_IMODE((tmp_path / "tls" / "ca-key.pem").stat().st_mode) == 0o600
    assert first.cert_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    other = ensure_ca(tmp_path / "other")
    assert other.certificate != first.certificate
    constraints = first.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca


def test_a_damaged_ca_is_made_anew(tmp_path: Path) -> None:
    first = ensure_ca(tmp_path)
    first.cert_file.write_text("not a certificate")
    assert ensure_ca(tmp_path).certificate != first.certificate


def test_the_home_follows_the_environment(tmp_path: Path) -> None:
    assert emulator_home({HOME_ENV: str(tmp_path)}) == tmp_path
    assert emulator_home({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "harness" / "emulator"


def test_the_router_certificate_names_loopback_and_chains_to_the_ca(tmp_path: Path) -> None:
    ca = ensure_ca(tmp_path)
    leaf = _served_certificate(ca)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(sans.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert leaf.issuer == ca.certificate.subject


def _served_certificate(ca: LocalCA) -> x509.Certificate:
    """The certificate a server with `ca.server_context()` presents to a client trusting only `ca`."""
    server_context = ca.server_context()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def accept() -> None:
            conn, _ = listener.accept()
            with server_context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        client = ssl.create_default_context(cafile=str(ca.cert_file))
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            client.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            der = tls.getpeercert(binary_form=True)
            tls.sendall(b"x")
        thread.join(10)
    assert der is not None
    return x509.load_der_x509_certificate(der)
