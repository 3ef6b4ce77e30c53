"""Get one access token with msal: client credentials (secret or certificate) or device code, through the cache.

One credential, one token request per run at most: every protocol check shares the token, and msal answers from the
persistent cache (token_cache.py) while the token is valid, so a second run within its lifetime sends none. Notes
about the cache (no OS keyring, a store that failed mid-run) go to stderr as one line each; never a token.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..text import printable
from .inputs import Target
from .secret import Secret
from .token_cache import EncryptedTokenCache, TokenCacheFile, open_token_cache, short_reason

RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})
"""Scopes msal adds itself and refuses to be given."""
_AADSTS = re.compile(r"AADSTS(\d+)")
MAX_TEXT = 300
HTTP_REDIRECTS = range(300, 400)
DEVICE_CODE_SECONDS = 900
_TRACE = re.compile(r"\s*(Trace ID|Correlation ID|Timestamp):.*", re.DOTALL)


@dataclass(frozen=True)
class TokenFailure:
    """Why there is no token."""

    codes: tuple[int, ...]
    """The AADSTS codes Entra ID returned (empty when it did not answer)."""
    error: str
    """The OAuth `error`; or `unreachable`, `tls`, `timeout`, `tenant-not-found`, `redirect`, `insecure` (a
    request refused) or `bad-reply` (a reply msal or exo-oauth could not read) when it did not get that far."""
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


class RefusedRequestError(Exception):
    """A request the token session refused to send or to follow: a redirect, plain HTTP, or another origin."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        """`redirect` or `insecure`."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else None)
    except ValueError:
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def _session(target: Target, deadline: float) -> Any:
    """Return the requests session msal sends everything through (msal's `http_client`).

    msal applies `timeout` only to sessions it builds itself, and requests follows 307/308 with the body: so this
    session sets the timeout on every request (never past the run's `deadline`, a monotonic time), never follows a
    redirect (a 30x raises RefusedRequestError), sends nothing over plain HTTP, and sends a body (the credential travels
    in POST bodies) only to the configured authority's origin. TLS is always verified; with `--ca-file` only
    against those CAs (REQUESTS_CA_BUNDLE can't widen it).
    """
    import requests  # noqa: PLC0415 - requests is heavy; `exo-oauth --help` must not load it

    authority = _origin(target.authority)

    class TokenSession(requests.Session):
        def merge_environment_settings(self, *args: Any, **kwargs: Any) -> Any:
            settings = super().merge_environment_settings(*args, **kwargs)
            settings["verify"] = str(target.ca_file) if target.ca_file else True
            return settings

        def send(self, request: Any, **kwargs: Any) -> Any:
            origin = _origin(str(request.url))
            if origin[0] != "https":
                raise RefusedRequestError("insecure", f"msal was sent to {origin[0]}://{origin[1]}, not HTTPS; nothing "
                                     "was sent there")
            if str(request.method).upper() != "GET" and origin != authority:
                raise RefusedRequestError("insecure", f"msal was sent to post to {origin[1]}, which is not the "
                                     f"configured authority {authority[1]}; the credential was not sent there")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise requests.exceptions.Timeout(f"the run's deadline passed before a request to {origin[1]}")
            kwargs["timeout"] = min(target.timeout, remaining)
            kwargs["allow_redirects"] = False
            response = super().send(request, **kwargs)
            if response.is_redirect or HTTP_REDIRECTS.start <= response.status_code < HTTP_REDIRECTS.stop:
                where = _origin(response.headers.get("location", ""))
                response.close()
                raise RefusedRequestError("redirect", f"{origin[1]} answered HTTP {response.status_code}, a redirect "
                                          f"to {where[0] or '?'}://{where[1] or '?'}; token requests never follow "
                                          "redirects")
            return response

    return TokenSession()


def _failure_from_result(result: dict[str, Any]) -> TokenFailure:
    description = printable(str(result.get("error_description") or ""))
    listed = result.get("error_codes")
    codes = [c for c in listed if isinstance(c, int) and not isinstance(c, bool)] if isinstance(listed, list) else []
    found = tuple(codes or (int(c) for c in _AADSTS.findall(description)))
    error = result.get("error")
    return TokenFailure(found, printable(error)[:100] if isinstance(error, str) and error else "error",
                        _TRACE.sub("", description).strip()[:MAX_TEXT])


def _outcome(result: Any) -> TokenOutcome:
    if not result:
        return TokenOutcome(None, False, TokenFailure((), "error", "msal returned no token and no error"))
    if not isinstance(result, dict):
        return TokenOutcome(None, False, TokenFailure((), "bad-reply", "the reply is not a JSON object"))
    if "access_token" not in result:
        return TokenOutcome(None, False, _failure_from_result(result))
    token = result["access_token"]
    if not isinstance(token, str) or not token or not token.isascii() or not token.isprintable():
        return TokenOutcome(None, False, TokenFailure((), "bad-reply", "access_token is not a printable text"))
    claims = result.get("id_token_claims")
    account = (claims.get("preferred_username") or claims.get("upn")) if isinstance(claims, dict) else None
    return TokenOutcome(Secret(token), result.get("token_source") == "cache", None,
                        printable(account)[:MAX_TEXT] if isinstance(account, str) and account else None)


def _delegated(app: Any, target: Target, scopes: list[str], prompt: Callable[[str], None]) -> dict[str, Any] | None:
    accounts = app.get_accounts()
    wanted = [a for a in accounts if target.mailbox and str(a.get("username", "")).lower() == target.mailbox.lower()]
    chosen = wanted or (accounts if len(accounts) == 1 else [])
    if chosen:
        result: dict[str, Any] | None = app.acquire_token_silent_with_error(scopes, account=chosen[0])
        if result and "access_token" in result:
            return result
    flow = app.initiate_device_flow(scopes=scopes)
    if not isinstance(flow, dict) or not isinstance(flow.get("user_code"), str):
        return dict(flow) if isinstance(flow, dict) else {"error": "bad-reply"}
    # The login host sets expires_in; Entra's device codes live 15 minutes, and a hostile host must not say more.
    flow["expires_at"] = min(float(flow.get("expires_at") or 0), time.time() + DEVICE_CODE_SECONDS)
    prompt(printable(str(flow.get("message") or flow["user_code"]))[:MAX_TEXT])
    return dict(app.acquire_token_by_device_flow(flow))


def acquire_token(target: Target, prompt: Callable[[str], None], deadline: float | None = None) -> TokenOutcome:
    """Return the run's access token, or why there is none; `prompt` shows the device code sign-in message.

    No request starts after `deadline` (a monotonic time; default: one `--timeout` per request, no run limit).
    """
    import msal  # noqa: PLC0415 - msal is heavy; `exo-oauth --help` must not load it

    cache = _open_cache(target)
    session = None
    try:
        session = _session(target, deadline if deadline is not None else float("inf"))
        options: dict[str, Any] = {"authority": target.authority, "http_client": session,
                                   "timeout": target.timeout, "token_cache": cache.cache if cache else None}
        if target.custom_authority:
            options["instance_discovery"] = False
        scopes = [s for s in target.scopes if s not in RESERVED_SCOPES]
        if target.credential is not None:
            app = msal.ConfidentialClientApplication(target.client_id, client_credential=target.credential.for_msal(),
                                                     **options)
            outcome = _outcome(app.acquire_token_for_client(scopes=scopes))
        else:
            app = msal.PublicClientApplication(target.client_id, **options)
            outcome = _outcome(_delegated(app, target, scopes, prompt))
    except Exception as error:  # msal fails in many ways on a malformed reply; each becomes one named failure
        outcome = TokenOutcome(None, False, _failure(error, target))
    finally:
        if session is not None:
            session.close()
        if cache is not None:
            _save(cache)
    return outcome


def _open_cache(target: Target) -> TokenCacheFile | EncryptedTokenCache | None:
    """Return the run's token cache, or None; a cache that cannot be opened is a one-line notice, not a failure."""
    try:
        cache, notice = open_token_cache(target.token_cache, target.token_cache_mode)
    except OSError as error:  # an unreadable file or folder: the token is still worth getting, in memory
        cache, notice = None, (f"exo-oauth verify: token cache off: it cannot be opened ({short_reason(error)}); "
                               "this run's token is kept in memory only")
    if notice:
        print(notice, file=sys.stderr, flush=True)
    return cache


def _save(cache: TokenCacheFile | EncryptedTokenCache) -> None:
    """Write the cache; a store that failed, now or during the run, is a one-line notice."""
    try:
        cache.save()
        failure = cache.failure
    except OSError as error:  # a folder or disk that refuses the write costs the next run one token request
        failure = short_reason(error)
    if failure:
        print(f"exo-oauth verify: token cache not saved: the store failed during the run ({failure}); this run's "
              "token was kept in memory only", file=sys.stderr, flush=True)


def _failure(error: Exception, target: Target) -> TokenFailure:
    """Return why msal raised `error`: a refused request, the network, an unknown tenant, or an unreadable reply."""
    import requests  # noqa: PLC0415

    if isinstance(error, RefusedRequestError):
        return TokenFailure((), error.kind, str(error))
    network = ((requests.exceptions.Timeout, "timeout"), (requests.exceptions.SSLError, "tls"),
               (requests.exceptions.RequestException, "unreachable"))
    for kind, name in network:
        if isinstance(error, kind):
            return TokenFailure((), name, _reason(error))
    # msal wraps every failed tenant discovery in one ValueError; a 4xx answer (an unknown tenant) and an unreadable
    # one differ in the error it wraps.
    if isinstance(error, ValueError) and "authority configuration" in str(error):
        if "HTTP status: 4" in str(error.__context__):
            return TokenFailure((90002,), "tenant-not-found", f"no tenant {target.tenant} at {target.authority}")
        return TokenFailure((), "bad-reply", _message(error.__context__ or error, target))
    return TokenFailure((), "bad-reply", _message(error, target))


def _reason(error: Exception) -> str:
    """Return the innermost reason of a requests error, which names the host but carries no request body."""
    reason: BaseException = error
    while reason.__context__ is not None and str(reason.__context__):
        reason = reason.__context__
    return printable((str(reason).splitlines() or [type(reason).__name__])[0])[:MAX_TEXT]


def _message(error: BaseException, target: Target) -> str:
    """Return the first line of what msal raised on a reply it could not read, the credential scrubbed."""
    text = (str(error).splitlines() or [""])[0] or type(error).__name__
    if target.credential is not None:
        text = target.credential.value.scrub(text)
    return f"{type(error).__name__}: {printable(text)[:MAX_TEXT]}"
