"""Token claims are untrusted input: keep only the claims diagnosis reads, each with the type Entra ID gives it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..util.text import printable

MAX_CLAIM = 300
MAX_ITEMS = 100
LATEST_TIME = 253402300799
"""9999-12-31 23:59:59 UTC, the last second a date can show."""
TEXT_CLAIMS = ("tid", "appid", "azp", "scp", "upn", "unique_name", "preferred_username")


def _text(value: Any) -> str | None:
    return printable(value)[:MAX_CLAIM] if isinstance(value, str) else None


def typed_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """Return the claims diagnosis uses, dropping any whose type or range is not what Entra ID issues.

    `exp` a whole number of seconds within the calendar; `aud` a string or a list of strings; `roles` a list of
    strings; the rest strings. Text is cut to MAX_CLAIM characters with terminal control characters removed, so a
    forged token can neither crash the diagnosis nor write escape sequences to the terminal.
    """
    typed: dict[str, Any] = {}
    exp = claims.get("exp")
    if isinstance(exp, int) and not isinstance(exp, bool) and 0 <= exp <= LATEST_TIME:
        typed["exp"] = exp
    audience = claims.get("aud")
    if isinstance(audience, str):
        typed["aud"] = _text(audience)
    elif isinstance(audience, list) and all(isinstance(a, str) for a in audience[:MAX_ITEMS]):
        typed["aud"] = [_text(a) for a in audience[:MAX_ITEMS]]
    roles = claims.get("roles")
    if isinstance(roles, list) and all(isinstance(r, str) for r in roles[:MAX_ITEMS]):
        typed["roles"] = [_text(r) for r in roles[:MAX_ITEMS]]
    for key in TEXT_CLAIMS:
        if (value := _text(claims.get(key))) is not None:
            typed[key] = value
    return typed
