"""Which redirect URIs a mail app may register: HTTPS, or loopback `http://` on a public client only.

Pure: shared by the config validator and the `https-redirect-uris` policy rule, so both refuse the same URIs with the
same reasons (docs/decisions/0031).
"""

from __future__ import annotations

from contextlib import suppress
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
"""Hosts Entra accepts with `http://` (any port, any path): the redirect never leaves the device."""
IPV6_LOOPBACK = "::1"
"""Entra does not support the IPv6 loopback address in redirect URIs (Microsoft Learn, "Redirect URI restrictions")."""

ALLOWED = ("https://host/path without '#', or http://localhost or http://127.0.0.1 (any port and path) on a "
           "delegated app with publicClient: true")
"""What is allowed, in words, for messages."""


def redirect_uri_problem(uri: str, *, public_client: bool) -> str | None:
    """Return why `uri` may not be registered, as a clause that follows the URI ("is ..."), or None when it may.

    `public_client` says whether the URI is registered on the public-client (mobile and desktop) platform.
    """
    ambiguous = _ambiguity(uri)
    if ambiguous is not None:
        return ambiguous
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        return "is not a URL"
    if "#" in uri:
        # RFC 6749 section 3.1.2: a redirection endpoint URI must not include a fragment component.
        return "has a fragment ('#'), which a redirect URI may not have (RFC 6749 section 3.1.2)"
    scheme = parts.scheme.lower()
    if scheme == "https" and host:
        return None
    if scheme != "http" or not host:
        return "is not an https:// or loopback http:// URL"
    return _http_problem(host, public_client=public_client)


def _ambiguity(uri: str) -> str | None:
    """Return why browsers (WHATWG URL) and urlsplit could read a different host in `uri`, or None."""
    if "\\" in uri:
        # A browser reads '\\' as '/' in http(s) URLs, urlsplit does not: `http://evil.com\\@localhost/` is evil.com.
        return ("has a backslash ('\\'), which browsers read as '/', so the host a browser sends the code to is not "
                "the one it seems")
    if any(c.isspace() or not c.isprintable() for c in uri):
        return "has a space or control character, which a browser drops or encodes, so it is not the URI it seems"
    with suppress(ValueError):  # not a URL at all: the caller says so
        if "@" in urlsplit(uri).netloc:
            return "has user information ('user@' before the host), which hides the host a browser sends the code to"
    return None


def _http_problem(host: str, *, public_client: bool) -> str | None:
    if host == IPV6_LOOPBACK:
        return "uses the IPv6 loopback address [::1], which Entra ID does not support; use http://127.0.0.1 instead"
    if host not in LOOPBACK_HOSTS:
        return ("is an http:// URI on a host other than localhost or 127.0.0.1, so an authorization code could "
                "travel in clear text over the network; use https://")
    if not public_client:
        return ("is a loopback http:// URI on a confidential client; loopback redirects are for desktop apps that "
                "receive the code on the user's own device, so set publicClient: true on a delegated app, or use "
                "https://")
    return None
