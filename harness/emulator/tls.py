"""TLS at the router, as on Heroku: a local certificate authority, made once per emulator home.

Heroku's router terminates TLS for `*.herokuapp.com`; apps see plain HTTP with
`X-Forwarded-Proto: https`. Locally the CA (`<home>/tls/ca.pem`, its key mode
0600) signs a short-lived certificate for `localhost`, `127.0.0.1` and `::1`
each time the emulator starts; a client that should trust the emulator's
routers trusts `ca.pem` and nothing else changes. The CA is made under a file
lock, so emulators starting at once in one home share one CA.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CA_FILE", "LocalCA", "ensure_ca"]

CA_FILE = "ca.pem"
_CA_KEY = "ca-key.pem"
CA_DAYS = 3650
LEAF_DAYS = 30
_NAMES = ("localhost",)
_ADDRESSES = ("127.0.0.1", "::1")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600 (a private key)."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with (directory / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class LocalCA:
    """The emulator home's certificate authority: its certificate file and a signer for router certs."""

    def __init__(
        self, directory: Path, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey
    ) -> None:
        self.directory = directory
        self.certificate = certificate
        self._key = key

    @property
    def cert_file(self) -> Path:
        """The CA certificate (PEM) a client trusts to verify the emulator's routers."""
        return self.directory / CA_FILE

    def server_context(self) -> ssl.SSLContext:
        """A server-side context with a fresh certificate for localhost, 127.0.0.1 and ::1."""
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in _NAMES]
        names += [x509.IPAddress(ipaddress.ip_address(a)) for a in _ADDRESSES]
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "harness emulator router")]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.set_alpn_protocols(["http/1.1"])
        context.num_tickets = 0  # no client of a load test resumes sessions: spare the ticket writes
        chain = cert.public_bytes(serialization.Encoding.PEM) + self.certificate.public_bytes(
            serialization.Encoding.PEM
        )
        # load_cert_chain reads files only: private temp files, deleted at once.
        with tempfile.TemporaryDirectory(prefix="router-tls-", dir=self.directory) as tmp:
            cert_path, key_path = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            cert_path.write_bytes(chain)
            _write_private(key_path, _pem_key(key))
            context.load_cert_chain(cert_path, key_path)
        return context


def _new_ca(directory: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "harness"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"harness emulator local CA ({directory})"[:64]),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(directory / _CA_KEY, _pem_key(key))
    (directory / CA_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _usable(directory: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate((directory / CA_FILE).read_bytes())
    except (FileNotFoundError, ValueError):
        return False
    return (directory / _CA_KEY).is_file() and cert.not_valid_after_utc > _now() + datetime.timedelta(
        days=LEAF_DAYS
    )


def ensure_ca(home: Path) -> LocalCA:
    """The CA of this emulator home (`<home>/tls`), made on first use (or when it nears expiry)."""
    directory = home / "tls"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(directory):
        if not _usable(directory):
            _new_ca(directory)
        cert = x509.load_pem_x509_certificate((directory / CA_FILE).read_bytes())
        key = serialization.load_pem_private_key((directory / _CA_KEY).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{directory / _CA_KEY} is not an EC key; delete {directory} to make a new CA")
    return LocalCA(directory, cert, key)
