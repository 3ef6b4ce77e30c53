"""One verify run: the token request and the three protocol checks, overlapped where that is safe.

App-only runs ask msal for the token while the checks connect, finish TLS and read the greetings; each check waits
for the token only right before AUTH. Delegated runs get the token first, because a device code sign-in can take
minutes and servers drop idle connections, and because the mailbox may be the signed-in user's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..signin.secret import Secret
from ..signin.token import PendingToken, TokenOutcome
from ..util.errors import UsageError
from .checks import CheckResult, Login, run_checks, tls_context
from .diagnosis import read_claims
from .inputs import Target
from .request import RUN_STEPS
from .tokens import acquire_token


@dataclass(frozen=True)
class Run:
    """What one run produced, for the diagnosis."""

    outcome: TokenOutcome
    checks: list[CheckResult]
    mailbox: str | None


def _signed_in_mailbox(outcome: TokenOutcome, token: Secret) -> str | None:
    claims = read_claims(token) or {}
    name = outcome.account or claims.get("upn") or claims.get("unique_name")
    return str(name) if name else None


def run_verify(target: Target, prompt: Callable[[str], None]) -> Run:
    """Get the token and run every requested check, all within the run's deadline.

    Raise UsageError if no mailbox can be named.
    """
    context = tls_context(target.ca_file)
    if target.flow == "app-only" and target.mailbox:
        deadline = time.monotonic() + RUN_STEPS * target.timeout
        pending = PendingToken(lambda: acquire_token(target, prompt, deadline), deadline,
                               f"{RUN_STEPS * target.timeout:g} s, {RUN_STEPS} x --timeout")
        login = Login(target.mailbox, lambda: pending.result().token, context, target.timeout,
                      target.send_test_to, deadline)
        checks = run_checks(target.endpoints, login)
        return Run(pending.result(), checks, target.mailbox)
    # Delegated: the device code sign-in waits for a person (at most 15 minutes); the run's clock starts after it.
    outcome = acquire_token(target, prompt)
    deadline = time.monotonic() + RUN_STEPS * target.timeout
    token = outcome.token
    if token is None:
        return Run(outcome, [], target.mailbox)
    mailbox = target.mailbox or _signed_in_mailbox(outcome, token)
    if not mailbox:
        raise UsageError("--mailbox: the signed-in user's token names no mailbox; allowed: --mailbox ADDR")
    login = Login(mailbox, lambda: token, context, target.timeout, target.send_test_to, deadline)
    return Run(outcome, run_checks(target.endpoints, login), mailbox)
