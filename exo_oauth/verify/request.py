"""What one `verify` run is asked to check: a typed request, built by the `verify` command or by `drift`.

Light (standard library only), so the command can build it and `exo-oauth --help` stays fast. `resolve_target`
(verify/inputs.py) checks it and turns it into a Target; `verify` (verify/service.py) runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exo_domain.outputs import StackOutputs

DEFAULT_TIMEOUT = 20.0
"""Seconds per network step."""
RUN_STEPS = 6
"""The whole run (token requests and every check's steps, overlapped) may take this many `--timeout`s."""


@dataclass(frozen=True)
class VerifyRequest:
    """One verify run: the target (a stack's app, or explicit IDs), the credential, the cloud and host overrides.

    Each field carries the value of the `exo-oauth verify` flag of the same name (`client_id` is `--client-id`);
    None means the flag was not given. Error messages name the flag, so they read the same from drift.
    """

    # The target: a deployed stack's app ...
    stack: str | None = None
    app: str | None = None
    outputs: Path | None = None
    """A saved `pulumi stack output --json [--show-secrets]` file; None asks the pulumi CLI."""
    stack_outputs: StackOutputs | None = None
    """The stack's outputs already read (drift reads them once per stack, secrets included); None reads them."""
    project_dir: Path | None = None
    # ... or explicit IDs.
    tenant: str | None = None
    client_id: str | None = None
    flow: str | None = None
    # What to check.
    mailbox: str | None = None
    protocols: str | None = None
    """A comma-separated subset of imap,pop,smtp, as given to `--protocols`."""
    send_test_to: str | None = None
    # The credential: never a value, only where to read it.
    secret_env: str | None = None
    certificate: Path | None = None
    certificate_passphrase_env: str | None = None
    # The cloud and its overrides.
    cloud: str | None = None
    """None: the stack's own hosts and scopes, else `global`."""
    authority_host: str | None = None
    imap: str | None = None
    pop: str | None = None
    smtp: str | None = None
    ca_file: Path | None = None
    # How to run.
    timeout: float = DEFAULT_TIMEOUT
    token_cache: str = "encrypted"
    """`encrypted`, `plain` or `off` (verify/token_cache.py MODES)."""
