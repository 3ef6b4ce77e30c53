"""The names shared by everything that renders, writes or prints the Exchange Online scripts.

Kept apart from the renderer so `exo-oauth --help` can list the actions without loading the config parser.
"""

from __future__ import annotations

from .exit_codes import ExitCode

ACTIONS = ("apply", "verify", "remove")
"""The three scripts, in the order they are printed."""
EXIT_DRIFT = int(ExitCode.DRIFT)
"""verify's exit status when something drifted (`ExitCode.FAILED` means the script itself failed, e.g. the sign-in)."""


def script_name(action: str) -> str:
    """Return the file name of one script, e.g. `exchange-apply.ps1`."""
    return f"exchange-{action}.ps1"
