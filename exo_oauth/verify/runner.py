"""One verify run: the token request and the three protocol checks, overlapped where that is safe.

App-only runs ask msal for the token while the checks connect, finish TLS and read the greetings; each check waits
for the token only right before AUTH. Delegated runs get the token first, because a device code sign-in can take
minutes and servers drop idle connections, and because the mailbox may be the signed-in user's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import UsageError
from .checks import CheckResult, Login, run_checks, tls_context
from .diagnosis import read_claims
from .inputs import Target
from .request import RUN_STEPS
from .secret import Secret
from .tokens import TokenFailure, TokenOutcome, acquire_token


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


class _PendingToken:
    """The token request, on a daemon thread.

    A login host that never finishes cannot hold the run past its deadline (a pool thread would be joined at exit).
    """

    def __init__(self, target: Target, prompt: Callable[[str], None], deadline: float) -> None:
        self.deadline, self.timeout = deadline, target.timeout * RUN_STEPS
        self.outcome: TokenOutcome | None = None
        self.done = threading.Event()
        threading.Thread(target=self._run, args=(target, prompt), name="verify-token", daemon=True).start()

    def _run(self, target: Target, prompt: Callable[[str], None]) -> None:
        try:
            self.outcome = acquire_token(target, prompt, self.deadline)
        except Exception as error:  # a bug must not read as a timeout; its text may hold a secret, its type does not
            self.outcome = TokenOutcome(None, False, TokenFailure((), "error", f"the token request failed: "
                                                                  f"{type(error).__name__}"))
        finally:
            self.done.set()

    def result(self) -> TokenOutcome:
        """Return the outcome, or a timeout once the run's deadline has passed."""
        if self.done.wait(max(0.0, self.deadline - time.monotonic())) and self.outcome is not None:
            return self.outcome
        return TokenOutcome(None, False, TokenFailure((), "timeout", f"no token within the run's deadline "
                                                      f"({self.timeout:g} s, {RUN_STEPS} x --timeout)"))


def run_verify(target: Target, prompt: Callable[[str], None]) -> Run:
    """Get the token and run every requested check, all within the run's deadline.

    Raise UsageError if no mailbox can be named.
    """
    context = tls_context(target.ca_file)
    if target.flow == "app-only" and target.mailbox:
        deadline = time.monotonic() + RUN_STEPS * target.timeout
        pending = _PendingToken(target, prompt, deadline)
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
