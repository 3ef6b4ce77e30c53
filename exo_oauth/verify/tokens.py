"""Get one access token with msal: client credentials (secret or certificate) or device code, through the cache.

One credential, one token request per run at most: every protocol check shares the token, and msal answers from the
persistent cache (token_cache.py) while the token is valid, so a second run within its lifetime sends none. Notes
about the cache (no OS keyring, a store that failed mid-run) go to stderr as one line each; never a token.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .inputs import Target
from .secret import Secret
from .token_cache import open_token_cache

RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})
"""Scopes msal adds itself and refuses to be given."""
_AADSTS = re.compile(r"AADSTS(\d+)")
_TRACE = re.compile(r"\s*(Trace ID|Correlation ID|Timestamp):.*", re.DOTALL)


@dataclass(frozen=True)
class TokenFailure:
    """Why there is no token."""

    codes: tuple[int, ...]
    """The AADSTS codes Entra ID returned (empty when it did not answer)."""
    error: str
    """The OAuth `error`, or `unreachable`, `tls` or `tenant-not-found` when msal could not get that far."""
    description: str
    """Entra ID's description without trace and correlation IDs, or the network error."""


@dataclass(frozen=True)
class TokenOutcome:
    """The result of asking for the run's one token."""

    token: Secret | None
    from_cache: bool
    """True if msal answered from the cache and sent no token request."""
    failure: TokenFailure | None
    account: str | None = None
    """Delegated: the signed-in user's name."""


def _session(target: Target) -> Any:
    import requests  # noqa: PLC0415 - requests is heavy; `exo-oauth --help` must not load it

    class PinnedSession(requests.Session):
        """Keeps proxy settings from the environment but trusts only `--ca-file` (REQUESTS_CA_BUNDLE can't widen it)."""

        def merge_environment_settings(self, *args: Any, **kwargs: Any) -> Any:
            settings = super().merge_environment_settings(*args, **kwargs)
            settings["verify"] = str(target.ca_file)
            return settings

    session = PinnedSession() if target.ca_file else requests.Session()
    if target.ca_file:
        session.verify = str(target.ca_file)
    return session


def _failure_from_result(result: dict[str, Any]) -> TokenFailure:
    description = str(result.get("error_description") or "")
    codes = tuple(int(c) for c in result.get("error_codes") or _AADSTS.findall(description))
    return TokenFailure(codes, str(result.get("error") or "error"), _TRACE.sub("", description).strip())


def _outcome(result: dict[str, Any] | None) -> TokenOutcome:
    if not result:
        return TokenOutcome(None, False, TokenFailure((), "error", "msal returned no token and no error"))
    if "access_token" not in result:
        return TokenOutcome(None, False, _failure_from_result(result))
    claims = result.get("id_token_claims") or {}
    account = claims.get("preferred_username") or claims.get("upn")
    return TokenOutcome(Secret(result["access_token"]), result.get("token_source") == "cache", None,
                        str(account) if account else None)


def _delegated(app: Any, target: Target, scopes: list[str], prompt: Callable[[str], None]) -> dict[str, Any] | None:
    accounts = app.get_accounts()
    wanted = [a for a in accounts if target.mailbox and str(a.get("username", "")).lower() == target.mailbox.lower()]
    chosen = wanted or (accounts if len(accounts) == 1 else [])
    if chosen:
        result: dict[str, Any] | None = app.acquire_token_silent_with_error(scopes, account=chosen[0])
        if result and "access_token" in result:
            return result
    flow = app.initiate_device_flow(scopes=scopes)
    if "user_code" not in flow:
        return dict(flow)
    prompt(str(flow["message"]))
    return dict(app.acquire_token_by_device_flow(flow))


def acquire_token(target: Target, prompt: Callable[[str], None]) -> TokenOutcome:
    """Return the run's access token, or why there is none; `prompt` shows the device code sign-in message."""
    import msal  # noqa: PLC0415 - msal is heavy; `exo-oauth --help` must not load it
    import requests  # noqa: PLC0415

    cache, notice = open_token_cache(target.token_cache, target.token_cache_mode)
    if notice:
        print(notice, file=sys.stderr, flush=True)
    session = _session(target)
    options: dict[str, Any] = {"authority": target.authority, "http_client": session,
                               "timeout": target.timeout, "token_cache": cache.cache if cache else None}
    if target.custom_authority:
        options["instance_discovery"] = False
    scopes = [s for s in target.scopes if s not in RESERVED_SCOPES]
    try:
        if target.credential is not None:
            app = msal.ConfidentialClientApplication(target.client_id, client_credential=target.credential.for_msal(),
                                                     **options)
            outcome = _outcome(app.acquire_token_for_client(scopes=scopes))
        else:
            app = msal.PublicClientApplication(target.client_id, **options)
            outcome = _outcome(_delegated(app, target, scopes, prompt))
    except requests.exceptions.SSLError as error:
        outcome = TokenOutcome(None, False, TokenFailure((), "tls", _reason(error)))
    except requests.exceptions.RequestException as error:
        outcome = TokenOutcome(None, False, TokenFailure((), "unreachable", _reason(error)))
    except ValueError as error:
        # msal raises ValueError for an authority it cannot discover (an unknown tenant) and for input it refuses.
        if "authority configuration" in str(error):
            failure = TokenFailure((90002,), "tenant-not-found", f"no tenant {target.tenant} at {target.authority}")
        else:
            failure = TokenFailure((), "msal", str(error).splitlines()[0][:300])
        outcome = TokenOutcome(None, False, failure)
    finally:
        session.close()
        if cache is not None:
            cache.save()
            if cache.failure:
                print(f"exo-oauth verify: token cache not saved: the encrypted store failed during the run "
                      f"({cache.failure}); this run's token was kept in memory only", file=sys.stderr, flush=True)
    return outcome


def _reason(error: Exception) -> str:
    """Return the innermost reason of a requests error, which names the host but carries no request body."""
    reason: BaseException = error
    while reason.__context__ is not None and str(reason.__context__):
        reason = reason.__context__
    return str(reason).splitlines()[0][:300]
