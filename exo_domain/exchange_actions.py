"""The names shared by everything that renders, writes or prints the Exchange Online scripts.

Kept apart from the renderer so `exo-oauth --help` can list the actions without loading the config parser.
"""

from __future__ import annotations

from .exit_codes import ExitCode

ACTIONS = ("apply", "verify", "remove")
"""The three scripts, in the order they are printed."""
EXIT_DRIFT = int(ExitCode.DRIFT)
"""verify's exit status when something drifted (`ExitCode.FAILED` means the script itself failed, e.g. the sign-in)."""


RBAC_SEND = "SMTP send (RBAC scope)"
"""What an `exchangeAccess: rbac` app holds on each of its mailboxes: membership of its management scope."""


def mailbox_rights(exchange_access: str | None, send_as: bool) -> tuple[str, ...]:
    """Return what the Exchange steps give an app-only app on one mailbox, for reviews and revocations.

    `mailbox-permissions` (or None, outputs of an older version): FullAccess, plus SendAs with `sendAs: true`;
    `rbac`: RBAC_SEND only.
    """
    if exchange_access == "rbac":
        return (RBAC_SEND,)
    return ("FullAccess", "SendAs") if send_as else ("FullAccess",)


def script_name(action: str) -> str:
    """Return the file name of one script, e.g. `exchange-apply.ps1`."""
    return f"exchange-{action}.ps1"


def result_name(action: str) -> str:
    """Return the file beside a stack's script where a runner records how it ended: `exchange-verify.result.json`."""
    return f"exchange-{action}.result.json"


def runner_name(index: int | str, action: str) -> str:
    """Return the file name of one action's `index`th runner (from 1): `exchange-verify-run-1.ps1`; `*` gives a glob."""
    return f"exchange-{action}-run-{index}.ps1"
