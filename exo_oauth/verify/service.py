"""verify as a library: run one VerifyRequest and return the explained result, for the command and for drift."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from exo_domain.exit_codes import ExitCode

from ..signin.secret import Secret
from .diagnosis import Diagnosis, diagnose
from .inputs import Target, resolve_target
from .report import exit_status
from .request import VerifyRequest
from .runner import run_verify


@dataclass(frozen=True)
class Verification:
    """One finished run: what was checked, what was found, and the secrets no printed text may contain."""

    target: Target
    diagnosis: Diagnosis
    secrets: tuple[Secret, ...]

    @property
    def exit_status(self) -> ExitCode:
        """OK, FAILED, or NOT_RUN when only network failures happened."""
        return exit_status(self.diagnosis)

    def scrub(self, text: str) -> str:
        """Return `text` with the token and the credential replaced: belt and braces before anything is printed."""
        for secret in self.secrets:
            text = secret.scrub(text)
        return text


def verify(request: VerifyRequest, environ: Mapping[str, str], prompt: Callable[[str], None]) -> Verification:
    """Check the request, get the token, run the checks and explain them; raise UsageError for bad input.

    `environ` supplies the variables `secret_env` and `certificate_passphrase_env` name, and the cache location;
    `prompt` shows the device code sign-in message of a delegated run.
    """
    target = resolve_target(request, environ)
    run = run_verify(target, prompt=prompt)
    credential = target.credential.secrets if target.credential else ()
    secrets = tuple(s for s in (run.outcome.token, *credential) if s)
    return Verification(target, diagnose(target, run.outcome, run.checks, run.mailbox), secrets)
