"""The certificate the SMTP listeners offer with STARTTLS.

An operator names a certificate and key (``MAILWRIGHT_TLS_CERT_FILE``/``_KEY_FILE``); without
them a self-signed certificate is generated once into ``<data dir>/tls/`` and reused, so
STARTTLS works out of the box (clients that verify certificates need the real one).
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailwright.errors import ConfigError
from mailwright.logs import get_logger

log = get_logger(__name__)

SELF_SIGNED_DAYS = 3650


def server_tls_context(
    cert_file: Path | None, key_file: Path | None, data_dir: Path, hostname: str
) -> ssl.SSLContext:
    if (cert_file is None) != (key_file is None):
        raise ConfigError("MAILWRIGHT_TLS_CERT_FILE and MAILWRIGHT_TLS_KEY_FILE go together")
    if cert_file is None or key_file is None:
        cert_file, key_file = ensure_self_signed(data_dir / "tls", hostname)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS certificate {cert_file}: {exc}") from None
    return context


def ensure_self_signed(directory: Path, hostname: str) -> tuple[Path, Path]:
    """``(cert, key)`` paths under ``directory``, generated the first time."""
    cert_file, key_file = directory / "self-signed-cert.pem", directory / "self-signed-key.pem"
    if cert_file.exists() and key_file.exists():
        return cert_file, key_file
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [x509.DNSName(hostname), x509.DNSName("localhost")]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_file.touch(mode=0o600)
    key_file.write_bytes(key_pem)
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    log.info("tls_certificate_generated", path=str(cert_file), hostname=hostname)
    return cert_file, key_file
