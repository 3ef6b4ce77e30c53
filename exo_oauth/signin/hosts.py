"""Where a sign-in goes: each cloud's login host (exo_domain.microsoft), or an `https://HOST[:PORT]` override."""

from __future__ import annotations

from urllib.parse import urlsplit

from exo_domain.microsoft import CLOUDS, DEFAULT_CLOUD

from ..util.errors import UsageError


def https_origin(flag: str, value: str) -> str:
    """Return `value` as an origin without a trailing slash; raise UsageError naming `flag` unless https://HOST[:PORT].

    No path, query, user information or backslash: msal only talks to HTTPS authorities, and a path would be dropped
    by one reader and kept by another.
    """
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # an unclosed [IPv6 bracket, or a port that is not a number from 0 to 65535
        parts, port_ok = urlsplit(""), False
    if (parts.scheme != "https" or not parts.hostname or not port_ok or parts.path.strip("/") or parts.query
            or "@" in parts.netloc or "\\" in value):
        raise UsageError(f"{flag} {value!r}: allowed: https://HOST[:PORT] without a path")
    return value.rstrip("/")


def login_host(cloud: str | None, override: str | None) -> str:
    """Return the login host to sign in at: `--authority-host` when given, else the cloud's (default: global)."""
    if override is not None:
        return https_origin("--authority-host", override)
    return CLOUDS[cloud or DEFAULT_CLOUD].login_host


def graph_host(cloud: str | None, override: str | None) -> str:
    """Return the Microsoft Graph host to read: `--graph-host` when given, else the cloud's (default: global)."""
    if override is not None:
        return https_origin("--graph-host", override)
    return CLOUDS[cloud or DEFAULT_CLOUD].graph_host
