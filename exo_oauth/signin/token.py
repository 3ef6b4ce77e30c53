"""One access token with msal: client credentials (secret, certificate, federated) or device code.

Every failure becomes a TokenFailure with a name and one line of text, and that text never holds the credential:
the scrub happens here, once, for every command that signs in (docs/security.md). Nothing waits past the run's
deadline: `PendingToken` asks on a daemon thread, so a login host that sends a byte at a time cannot hold the run.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..util.text import printable
from .credentials import ClientCredential
from .secret import Secret
from .session import MAX_TEXT, RefusedRequestError, http_session, network_reason

RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})
"""Scopes msal adds itself and refuses to be given."""
DEVICE_CODE_SECONDS = 900
"""Entra's device codes live 15 minutes; a login host that says longer is not believed."""
_AADSTS = re.compile(r"AADSTS(\d+)")
_TRACE = re.compile(r"\s*(Trace ID|Correlation ID|Timestamp):.*", re.DOTALL)


@dataclass(frozen=True)
class SignIn:
    """Who signs in, where, and for what: everything msal is given for one token."""

    tenant: str
    client_id: str
    authority: str
    """`<login host>/<tenant>`."""
    scopes: tuple[str, ...]
    credential: ClientCredential | None
    """None: a public client, signed in with the device code flow."""
    ca_file: Path | None
    timeout: float
    """Seconds for each request."""
    custom_authority: bool = False
    """True with `--authority-host`: msal then skips Microsoft's instance discovery."""
    account: str | None = None
    """Delegated: the cached account to use silently (a mailbox address), if any."""


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

    def line(self) -> str:
        """Return the failure as one line: AADSTS codes, error, description."""
        codes = "".join(f"AADSTS{c} " for c in self.codes)
        return f"{codes}{self.error}: {self.description}" if self.description else f"{codes}{self.error}"


@dataclass(frozen=True)
class TokenOutcome:
    """The result of asking for the run's one token."""

    token: Secret | None
    from_cache: bool
    """True if msal answered from the cache and sent no token request."""
    failure: TokenFailure | None
    account: str | None = None
    """Delegated: the signed-in user's name."""


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


def _delegated(app: Any, sign_in: SignIn, scopes: list[str], prompt: Callable[[str], None],
               deadline: float) -> dict[str, Any] | None:
    accounts = app.get_accounts()
    wanted = [a for a in accounts if sign_in.account and str(a.get("username", "")).lower() == sign_in.account.lower()]
    chosen = wanted or (accounts if len(accounts) == 1 else [])
    if chosen:
        result: dict[str, Any] | None = app.acquire_token_silent_with_error(scopes, account=chosen[0])
        if result and "access_token" in result:
            return result
    flow = app.initiate_device_flow(scopes=scopes)
    if not isinstance(flow, dict) or not isinstance(flow.get("user_code"), str):
        return dict(flow) if isinstance(flow, dict) else {"error": "bad-reply"}
    # msal polls until expires_at, which the login host sets: never past 15 minutes nor the run's deadline.
    wait = min(DEVICE_CODE_SECONDS, deadline - time.monotonic())
    try:
        flow["expires_at"] = min(float(flow.get("expires_at") or 0), time.time() + wait)
    except (TypeError, ValueError, OverflowError):
        flow["expires_at"] = time.time() + wait
    prompt(printable(str(flow.get("message") or flow["user_code"]))[:MAX_TEXT])
    return dict(app.acquire_token_by_device_flow(flow))


def acquire_token(sign_in: SignIn, prompt: Callable[[str], None], deadline: float | None = None,
                  cache: Any = None) -> TokenOutcome:
    """Return the access token, or why there is none; `prompt` shows the device code sign-in message.

    No request starts after `deadline` (a monotonic time; default: one timeout per request, no run limit), and the
    device code wait ends by it. `cache` is an msal token cache, or None for none. The failure's text is scrubbed of
    the credential, whatever the login host repeated.
    """
    import msal  # noqa: PLC0415 - msal is heavy; `exo-oauth --help` must not load it

    limit = deadline if deadline is not None else float("inf")
    session = http_session(sign_in.authority, sign_in.ca_file, sign_in.timeout, limit)
    try:
        options: dict[str, Any] = {"authority": sign_in.authority, "http_client": session,
                                   "timeout": sign_in.timeout, "token_cache": cache}
        if sign_in.custom_authority:
            options["instance_discovery"] = False
        scopes = [s for s in sign_in.scopes if s not in RESERVED_SCOPES]
        if sign_in.credential is not None:
            app = msal.ConfidentialClientApplication(sign_in.client_id,
                                                     client_credential=sign_in.credential.for_msal(), **options)
            outcome = _outcome(app.acquire_token_for_client(scopes=scopes))
        else:
            app = msal.PublicClientApplication(sign_in.client_id, **options)
            outcome = _outcome(_delegated(app, sign_in, scopes, prompt, limit))
    except Exception as error:  # msal fails in many ways on a malformed reply; each becomes one named failure
        outcome = TokenOutcome(None, False, _failure(error, sign_in))
    finally:
        session.close()
    return _scrubbed(outcome, sign_in.credential)


def _scrubbed(outcome: TokenOutcome, credential: ClientCredential | None) -> TokenOutcome:
    failure = outcome.failure
    if failure is None or credential is None:
        return outcome
    error, description = failure.error, failure.description
    for secret in credential.secrets:
        error, description = secret.scrub(error), secret.scrub(description)
    return replace(outcome, failure=replace(failure, error=error, description=description))


def _failure(error: Exception, sign_in: SignIn) -> TokenFailure:
    """Return why msal raised `error`: a refused request, the network, an unknown tenant, or an unreadable reply."""
    import requests  # noqa: PLC0415

    if isinstance(error, RefusedRequestError):
        return TokenFailure((), error.kind, str(error))
    network = ((requests.exceptions.Timeout, "timeout"), (requests.exceptions.SSLError, "tls"),
               (requests.exceptions.RequestException, "unreachable"))
    for kind, name in network:
        if isinstance(error, kind):
            return TokenFailure((), name, network_reason(error))
    # msal wraps every failed tenant discovery in one ValueError; a 4xx answer (an unknown tenant) and an unreadable
    # one differ in the error it wraps.
    if isinstance(error, ValueError) and "authority configuration" in str(error):
        if "HTTP status: 4" in str(error.__context__):
            return TokenFailure((90002,), "tenant-not-found", f"no tenant {sign_in.tenant} at {sign_in.authority}")
        return TokenFailure((), "bad-reply", _message(error.__context__ or error))
    return TokenFailure((), "bad-reply", _message(error))


def _message(error: BaseException) -> str:
    """Return the first line of what msal raised on a reply it could not read (acquire_token scrubs it)."""
    text = (str(error).splitlines() or [""])[0] or type(error).__name__
    return f"{type(error).__name__}: {printable(text)[:MAX_TEXT]}"


class PendingToken:
    """A token request (`ask`) on a daemon thread, so a login host that never finishes cannot hold the run.

    `ask` should itself stop by `deadline`; `result()` returns at the deadline whatever the peer does. `limit` says in
    the timeout's message what the deadline is (for example `120 s, 6 x --timeout`).
    """

    def __init__(self, ask: Callable[[], TokenOutcome], deadline: float, limit: str) -> None:
        self.deadline, self.limit = deadline, limit
        self.outcome: TokenOutcome | None = None
        self.done = threading.Event()
        threading.Thread(target=self._run, args=(ask,), name="sign-in", daemon=True).start()

    def _run(self, ask: Callable[[], TokenOutcome]) -> None:
        try:
            self.outcome = ask()
        except Exception as error:  # a bug must not read as a timeout; its text may hold a secret, its type does not
            self.outcome = TokenOutcome(None, False, TokenFailure((), "error", f"the token request failed: "
                                                                  f"{type(error).__name__}"))
        finally:
            self.done.set()

    def result(self) -> TokenOutcome:
        """Return the outcome, or a timeout once the deadline has passed."""
        if self.done.wait(max(0.0, self.deadline - time.monotonic())) and self.outcome is not None:
            return self.outcome
        return TokenOutcome(None, False, TokenFailure((), "timeout", f"no token within the run's deadline "
                                                      f"({self.limit})"))
