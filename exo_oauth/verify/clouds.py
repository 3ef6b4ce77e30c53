"""Login host, token scopes, accepted token audiences and mail endpoints of each cloud, for verify (docs/verify.md).

The facts come from exo_domain.microsoft; this module shapes them for the checks (endpoints, audiences).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from exo_domain.microsoft import CLOUDS as MICROSOFT_CLOUDS
from exo_domain.microsoft import EXCHANGE_ONLINE, PROTOCOLS, PUBLISHED_APP_IDS
from exo_domain.microsoft import Cloud as CloudFacts

from ..util.errors import UsageError

MAX_PORT = 65535
EXCHANGE_ONLINE_APP_ID = PUBLISHED_APP_IDS[EXCHANGE_ONLINE]
"""Office 365 Exchange Online's application ID; a v2.0 token names its resource by this ID in `aud`."""


SECURITY = {p.name: p.security for p in PROTOCOLS}
"""How each check secures its connection: `tls` from the first byte, or `starttls` before AUTH (checks.py)."""


@dataclass(frozen=True)
class Endpoint:
    """Where one protocol's server listens (the protocol fixes the security, see SECURITY)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Cloud:
    """One Microsoft cloud: where to sign in, what to ask for, and where the mail servers are."""

    name: str
    login_host: str
    """The Entra ID authority host, as an https URL."""
    exchange_resource: str
    """Exchange Online's resource URL for app-only tokens (`<resource>/.default`)."""
    delegated_resource: str
    """The resource URL delegated scopes are prefixed with (`<resource>/IMAP.AccessAsUser.All`)."""
    endpoints: Mapping[str, Endpoint]
    """Mail endpoints by protocol (imap, pop, smtp)."""
    extra_audiences: tuple[str, ...] = ()
    """Other `aud` values Exchange Online tokens of this cloud are known to carry."""

    def audiences(self) -> frozenset[str]:
        """Return every `aud` value that names Exchange Online in this cloud."""
        return frozenset({self.exchange_resource, self.delegated_resource, EXCHANGE_ONLINE_APP_ID,
                          *self.extra_audiences})


def _cloud(facts: CloudFacts) -> Cloud:
    return Cloud(facts.name, facts.login_host, facts.exchange_resource, facts.delegated_resource,
                 {p.name: Endpoint(facts.mail_host(p.name), p.port) for p in PROTOCOLS}, facts.extra_audiences)


CLOUDS = {name: _cloud(facts) for name, facts in MICROSOFT_CLOUDS.items()}
"""The clouds `--cloud` accepts, from exo_domain.microsoft (docs/decisions/0034 cites every host)."""


def parse_endpoint(flag: str, text: str) -> Endpoint:
    """Parse `HOST:PORT` given to `flag`; raise UsageError naming the flag when it is not one."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) <= MAX_PORT:
        raise UsageError(f"{flag} {text!r}: not HOST:PORT; allowed: a host name or IP address, ':', a port "
                         "from 1 to 65535 (for example 127.0.0.1:10993)")
    return Endpoint(host, int(port))
