"""What one `audit` or `adopt` run is asked to do: typed requests, built by the commands from their flags.

Light (standard library only), so the commands can build them and `exo-oauth --help` stays fast. As in
verify/request.py, each field carries the flag of the same name (`client_id` is `--client-id`), None when not given,
and error messages name the flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_TIMEOUT = 30.0
"""Seconds per Graph request."""
DEFAULT_DEADLINE = 600.0
"""Seconds for the whole run, throttling waits included."""
MAX_DEADLINE = 3600.0
"""The longest --deadline allowed: an hour, well past what a large tenant's read takes."""


@dataclass(frozen=True)
class SignInRequest:
    """The tenant to read and how to sign in to Microsoft Graph: the app, its credential, the cloud and hosts."""

    tenant: str
    client_id: str | None = None
    # The credential: never a value, only where to read it.
    secret_env: str | None = None
    certificate: Path | None = None
    certificate_passphrase_env: str | None = None
    # The cloud and its overrides.
    cloud: str | None = None
    """None: `global`."""
    authority_host: str | None = None
    graph_host: str | None = None
    ca_file: Path | None = None
    # How long to wait.
    timeout: float = DEFAULT_TIMEOUT
    deadline: float = DEFAULT_DEADLINE


@dataclass(frozen=True)
class AuditRequest:
    """One read of a tenant (`audit`, and the read `adopt` starts with): sign-in, Exchange export, policy limits."""

    sign_in: SignInRequest
    exchange_export: Path | None = None
    warn_days: int | None = None
    max_days: int | None = None


@dataclass(frozen=True)
class AdoptRequest:
    """One `adopt` run: the read, and the stack file to write."""

    audit: AuditRequest
    stack: str
    project_dir: Path | None = None
    """None: the nearest folder with a Pulumi.yaml, from the working directory up."""
    default_owner: str | None = None
    organization: str | None = None
    force: bool = False
    revoke_excess: bool = False
    """List the consents the stack does not declare in the import file, so the first `pulumi up` deletes them."""
