"""The one table of exit statuses, shared by every `exo-oauth` command and the generated Exchange scripts.

Each code means the same thing wherever it appears; docs/exit-codes.md is generated from `MEANINGS`. It lives in the
domain because the Exchange verify script (rendered by the Pulumi program, which never imports the CLI) exits with
`DRIFT` too. Standard library only, so `exo-oauth --help` stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit statuses of every command and script."""

    OK = 0
    FAILED = 1
    USAGE = 2
    POLICY = 3
    NOT_RUN = 4
    DRIFT = 5
    OUTPUT = 6
    INTERRUPTED = 130
    TERMINATED = 143


MEANINGS: Mapping[ExitCode, tuple[str, str]] = {
    ExitCode.OK: ("success: everything asked for was done, checked and found as declared",
                  "every command; the Exchange scripts"),
    ExitCode.FAILED: ("a check failed (each failure is listed with its cause and fix), or an error stopped the run",
                      "`verify` (a login or the token failed); `audit` and `adopt` (findings to review); the Exchange "
                      "scripts (an error such as a failed "
                      "sign-in: PowerShell's own status for an uncaught error)"),
    ExitCode.USAGE: ("bad input: one line on stderr names the file or flag, the key path, the problem and what is "
                     "allowed; nothing was changed or written",
                     "every command"),
    ExitCode.POLICY: ("a mandatory rule of the policy pack failed", "`plan`"),
    ExitCode.NOT_RUN: ("nothing was found wrong, but something could not be checked (a host unreachable or silent, "
                       "a tool or credential missing), so monitoring can tell \"broken\" from \"could not look\"",
                       "`verify` (only network failures); `drift` (no drift, but a check could not run) and "
                       "`drift-report` (the report's own status); `audit` and `adopt` (Microsoft Graph or the login "
                       "host could not be read; nothing written); `exchange` with several stacks (a stack that could "
                       "not be rendered was left out, the others written)"),
    ExitCode.DRIFT: ("the tenant differs from the stack: every drifted item is listed",
                     "`drift` (in any check, whatever else could not run) and `drift-report` (the report's own "
                     "status); the Exchange verify script"),
    ExitCode.OUTPUT: ("the output could not be written in full (a full disk, a closed pipe): one line on stderr says "
                      "so; what was written is incomplete and must not be used", "every command"),
    ExitCode.INTERRUPTED: ("interrupted with Ctrl-C", "every command"),
    ExitCode.TERMINATED: ("stopped by SIGTERM (a CI job cancelled or timed out): temporary files removed and worker "
                          "processes ended first", "every command"),
}
"""Per code: what it means, and which commands and scripts return it."""


def exit_help(*codes: ExitCode) -> str:
    """Return the sentence a command's `--help` ends with, e.g. `Exit status: 0 ok, 2 usage (docs/exit-codes.md).`."""
    listed = ", ".join(f"{int(code)} {code.name.lower().replace('_', ' ')}" for code in codes)
    return f"Exit status: {listed} (docs/exit-codes.md)."
