"""The app's own credential for the client-credentials flow: a secret, a certificate or a federated assertion.

Its own module so that inputs.py (which reads the credential from flags and outputs) and federated.py (which makes
one from GitHub's OIDC token) both import it, and neither imports the other at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.config import is_guid

from .secret import Secret
from .token_cache import secret_partition


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

    def cache_partition(self) -> str:
        """Return the token cache partition: the thumbprint (certificate, federated) or a fingerprint of the secret."""
        return secret_partition(self.value.reveal()) if self.kind == "secret" else f"{self.kind[0]}{self.thumbprint}"

    def looks_like_secret_id(self) -> bool:
        """Return True if the secret has the shape of a GUID, which is what a secret's *ID* looks like."""
        return self.kind == "secret" and is_guid(self.value.reveal())
