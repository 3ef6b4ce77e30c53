"""Login host, token scopes, accepted token audiences and mail endpoints of each Microsoft cloud (README "Verify")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from components.permissions import (
    DELEGATED_RESOURCE,
    DELEGATED_SCOPES,
    ENDPOINTS,
    EXCHANGE_ONLINE,
    EXCHANGE_RESOURCE,
    LOGIN_HOST,
)

from ..errors import UsageError
from ..microsoft_ids import PUBLISHED_APP_IDS

MAX_PORT = 65535
EXCHANGE_ONLINE_APP_ID = PUBLISHED_APP_IDS[EXCHANGE_ONLINE]
"""Office 365 Exchange Online's application ID; a v2.0 token names its resource by this ID in `aud`."""


SECURITY = {"imap": "tls", "pop": "tls", "smtp": "starttls"}
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

    def scopes(self, flow: str, protocols: Sequence[str]) -> tuple[str, ...]:
        """Return the scopes to request: `.default` for app-only, one per protocol for delegated."""
        if flow == "app-only":
            return (f"{self.exchange_resource}/.default",)
        return tuple(f"{self.delegated_resource}/{DELEGATED_SCOPES[p]}" for p in protocols)

    def audiences(self) -> frozenset[str]:
        """Return every `aud` value that names Exchange Online in this cloud."""
        return frozenset({self.exchange_resource, self.delegated_resource, EXCHANGE_ONLINE_APP_ID,
                          *self.extra_audiences})


def _mail(imap_pop: str, smtp: str) -> dict[str, Endpoint]:
    return {"imap": Endpoint(imap_pop, 993), "pop": Endpoint(imap_pop, 995), "smtp": Endpoint(smtp, 587)}


CLOUDS = {
    "global": Cloud("global", LOGIN_HOST, EXCHANGE_RESOURCE, DELEGATED_RESOURCE,
                    {p: Endpoint(str(e["host"]), int(str(e["port"]))) for p, e in ENDPOINTS.items()},
                    extra_audiences=("https://ps.outlook.com",)),
    "usgov": Cloud("usgov", "https://login.microsoftonline.us", "https://outlook.office365.us",
                   "https://outlook.office365.us", _mail("outlook.office365.us", "outlook.office365.us")),
    "usgov-dod": Cloud("usgov-dod", "https://login.microsoftonline.us", "https://outlook-dod.office365.us",
                       "https://outlook-dod.office365.us",
                       _mail("outlook-dod.office365.us", "outlook-dod.office365.us")),
    "china": Cloud("china", "https://login.partner.microsoftonline.cn", "https://partner.outlook.cn",
                   "https://partner.outlook.cn", _mail("partner.outlook.cn", "smtp.partner.outlook.cn")),
}
"""The clouds `--cloud` accepts; README "Verify" cites the source of every host."""


def parse_endpoint(flag: str, text: str) -> Endpoint:
    """Parse `HOST:PORT` given to `flag`; raise UsageError naming the flag when it is not one."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) <= MAX_PORT:
        raise UsageError(f"{flag} {text!r}: not HOST:PORT; allowed: a host name or IP address, ':', a port "
                         "from 1 to 65535 (for example 127.0.0.1:10993)")
    return Endpoint(host, int(port))
