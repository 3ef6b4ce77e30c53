"""One read of a tenant for `audit` and `adopt`: sign in, read Graph (and the Exchange export), judge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ..policy.rules import PolicyConfig
from ..signin.session import MAX_TEXT
from ..util.errors import UsageError
from ..util.text import printable
from .exchange_export import ExchangeExport, load_export
from .findings import Finding, audit
from .graph import GraphError
from .inventory import Tenant, certificate_keys, lookup_principals, read_tenant
from .request import AuditRequest
from .signin import open_graph

MAX_POLICY_DAYS = 3650


@dataclass(frozen=True)
class Survey:
    """What one read found."""

    tenant: Tenant
    export: ExchangeExport | None
    findings: tuple[Finding, ...]
    calls: int
    """Graph requests sent (retries included)."""
    certificates: Mapping[str, str] = field(default_factory=dict)
    """adopt: base64 DER of the mail apps' certificates, by key id."""


def _shape(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"a field is missing: {printable(str(error))[:MAX_TEXT]}"
    return f"{type(error).__name__}: {printable(str(error))[:MAX_TEXT]}"


def policy_from(args: AuditRequest) -> PolicyConfig:
    """Return the credential limits: `--warn-days` and `--max-days` over the policy pack's defaults."""
    for flag, given in (("--warn-days", args.warn_days), ("--max-days", args.max_days)):
        if given is not None and not 0 < given <= MAX_POLICY_DAYS:
            raise UsageError(f"{flag} {given}: allowed: days from 1 to {MAX_POLICY_DAYS}")
    default = PolicyConfig()
    return PolicyConfig(
        max_credential_days=default.max_credential_days if args.max_days is None else args.max_days,
        expiry_warning_days=default.expiry_warning_days if args.warn_days is None else args.warn_days)


def survey(args: AuditRequest, environ: Mapping[str, str], now: datetime, *,
           certificates: bool = False) -> Survey:
    """Check the flags, read the export file, sign in, read the tenant and judge it (`certificates`: fetch keys)."""
    policy = policy_from(args)
    export = load_export(args.exchange_export) if args.exchange_export is not None else None
    client = open_graph(args.sign_in, environ)
    try:
        tenant = read_tenant(client, args.sign_in.tenant.lower())
        entra = lookup_principals(client, tenant, {p.app_id for p in export.principals}) if export else (
            frozenset(), frozenset())
        keys = certificate_keys(client, tenant.applications) if certificates else {}
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        # Graph's objects are read as Graph documents them; a field missing or of another type ends the read here.
        raise GraphError(f"Graph answered with an object exo-oauth can't read ({_shape(error)}); nothing was "
                         "judged") from None
    finally:
        client.session.close()
    findings = audit(tenant, now, policy, export, entra)
    return Survey(tenant, export, tuple(findings), client.calls, keys)
