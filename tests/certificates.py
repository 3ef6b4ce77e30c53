"""Test certificates: self-signed, made on the fly, so no key material is ever committed."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import NameOID

PFX_PASSWORD = "pfx-password-for-tests"


def self_signed(not_before: datetime, not_after: datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """Return a fresh P-256 key and a self-signed certificate for it, valid from `not_before` to `not_after`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "exo-oauth test")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def make_certificate_pem(not_after: datetime, with_key: bool = False) -> str:
    """Return a self-signed PEM certificate valid until `not_after`, optionally followed by its private key."""
    key, certificate = self_signed(not_after - timedelta(days=400), not_after)
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    if with_key:
        pem += key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    return pem


def pfx() -> str:
    """Return the base64 of a PFX protected by PFX_PASSWORD, with a fresh key and a 30-day certificate."""
    now = datetime.now(UTC)
    key, certificate = self_signed(now, now + timedelta(days=30))
    data = pkcs12.serialize_key_and_certificates(b"exo", key, certificate, None,
                                                 BestAvailableEncryption(PFX_PASSWORD.encode()))
    return base64.b64encode(data).decode("ascii")
