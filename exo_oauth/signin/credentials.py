"""The app's own credential for the client-credentials flow: where it is read from, and what msal is given.

A credential is never a command-line value: a secret comes from the environment variable a flag names, a
certificate from a PEM file, and error messages never repeat what might be the secret itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exo_domain.config import is_guid

from ..util.errors import UsageError
from ..util.files import read_bytes
from .secret import Secret

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
"""A portable environment variable name (POSIX: letters, digits and '_', not starting with a digit)."""


@dataclass(frozen=True)
class ClientCredential:
    """The app's own credential for the client-credentials flow."""

    kind: str
    """`secret`, `certificate` or `federated` (a GitHub OIDC token as the client assertion)."""
    source: str
    """Where it came from, for messages (never the value)."""
    value: Secret
    """The client secret, or the private key in PEM."""
    certificate_pem: str | None = None
    """certificate: the public certificate in PEM."""
    passphrase: Secret | None = None
    """certificate: the private key's passphrase, if it is encrypted."""
    thumbprint: str | None = None
    """certificate: SHA-256 thumbprint (hex) of the certificate; federated: SHA-256 of its issuer and subject."""

    @property
    def secrets(self) -> tuple[Secret, ...]:
        """Every value of this credential no message may contain."""
        return (self.value, *((self.passphrase,) if self.passphrase else ()))

    def for_msal(self) -> str | dict[str, Any]:
        """Return the `client_credential` argument of msal's ConfidentialClientApplication."""
        if self.kind == "secret":
            return self.value.reveal()
        if self.kind == "federated":
            return {"client_assertion": self.value.reveal}
        credential = {"private_key": self.value.reveal(), "public_certificate": self.certificate_pem or ""}
        if self.passphrase is not None:
            credential["passphrase"] = self.passphrase.reveal()
        return credential

    def looks_like_secret_id(self) -> bool:
        """Return True if the secret has the shape of a GUID, which is what a secret's *ID* looks like."""
        return self.kind == "secret" and is_guid(self.value.reveal())


def env_secret(variable: str | None, flag: str, environ: Mapping[str, str]) -> Secret | None:
    """Return the value of the variable `flag` names; errors never repeat the argument, which may be the secret."""
    if variable is None:
        return None
    if not ENV_NAME.fullmatch(variable):
        raise UsageError(f"{flag}: the argument is not a valid variable name (it is not repeated here: it may be the "
                         f"secret itself); allowed: the NAME of a variable that holds the value, such as {flag} "
                         "EXO_SECRET (letters, digits and '_', not starting with a digit)")
    value = environ.get(variable)
    if not value:
        raise UsageError(f"{flag}: the variable it names is {'empty' if value == '' else 'not set'} (the name is not "
                         "repeated here: it may be a secret); allowed: the name of a set variable that holds the value")
    return Secret(value)


def read_certificate(pem_file: Path, passphrase_env: str | None, environ: Mapping[str, str]) -> ClientCredential:
    """Read `--certificate PEM` (private key and certificate, which must match); raise UsageError naming the flag."""
    from cryptography import x509  # noqa: PLC0415 - loads OpenSSL bindings; --help must not
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415

    flag = f"--certificate {pem_file}"
    data = read_bytes(pem_file, flag, "a PEM file with the private key and the certificate")
    passphrase = env_secret(passphrase_env, "--certificate-passphrase-env", environ)
    try:
        key = serialization.load_pem_private_key(data, passphrase.reveal().encode() if passphrase else None)
    except TypeError:
        raise UsageError(f"{flag}: the private key is encrypted; allowed: --certificate-passphrase-env VAR naming "
                         "the variable that holds its passphrase") from None
    except ValueError:
        raise UsageError(f"{flag}: no readable private key (or a wrong passphrase); allowed: a PEM file with "
                         "-----BEGIN PRIVATE KEY----- and -----BEGIN CERTIFICATE-----") from None
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise UsageError(f"{flag}: no certificate; allowed: a PEM file with the private key and the certificate "
                         "registered on the app") from None
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(der, spki) != key.public_key().public_bytes(der, spki):
        raise UsageError(f"{flag}: the certificate does not belong to the private key; allowed: a matching pair")
    return ClientCredential(
        kind="certificate", source=flag, value=Secret(data.decode("ascii", errors="replace")),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        passphrase=passphrase, thumbprint=certificate.fingerprint(hashes.SHA256()).hex(),
    )


def given_credential(secret_env: str | None, certificate: Path | None, passphrase_env: str | None,
                     environ: Mapping[str, str]) -> ClientCredential | None:
    """Return the credential `--secret-env VAR` or `--certificate PEM` gives, or None when neither is given."""
    if secret_env is not None and certificate is not None:
        raise UsageError("--secret-env and --certificate: both given; allowed: one credential")
    if certificate is not None:
        return read_certificate(certificate, passphrase_env, environ)
    secret = env_secret(secret_env, "--secret-env", environ)
    return ClientCredential("secret", "the variable --secret-env names", secret) if secret is not None else None
