"""Render one stack's Exchange Online PowerShell: the apply, verify and remove scripts.

Pure: plain values in, text out; no Pulumi, no I/O. `exchange_inputs` validates every value first (IDs as GUIDs,
mailboxes as addresses) and raises ConfigError naming the key path. `render_exchange_scripts` then writes each value
into the text only as a single-quoted literal (`ps_literal`), and only as an argument of a step call, never in a
comment or an expandable string. One table of steps drives all three scripts; each action maps a step to its own
PowerShell function (apply: Register/Grant/Enable/Set, verify: Test, remove: Unregister/Revoke). The functions live
in exo_domain/exchange/ExoOAuth.psm1, which each script imports from beside it after checking its hash
(`exchange_module.import_lines`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .config import STACK_NAME, At, ExchangeConfig, Mailbox, guid, one_of
from .errors import ConfigError
from .exchange_actions import ACTIONS, EXIT_DRIFT, RBAC_SEND, mailbox_rights
from .exchange_module import import_lines
from .microsoft import CLOUDS, DEFAULT_CLOUD, PROTOCOLS_BY_NAME
from .outputs import AppOutputs
from .powershell import ps_literal
from .schema import EXCHANGE_ACCESS, RBAC

MODULE_VERSIONS = ("3.0.0", "3.*")
"""ExchangeOnlineManagement versions the scripts accept: REST cmdlets and Get-ConnectionInformation need 3.x."""


@dataclass(frozen=True)
class ExchangeApp:
    """What the Exchange steps need to know about one deployed app."""

    name: str
    """The app's stable name."""
    display_name: str
    """The app's display name, also used for its Exchange service principal."""
    flow: str
    """`app-only` or `delegated`."""
    protocols: tuple[str, ...]
    """The chosen protocols, in canonical order."""
    client_id: str
    """The application (client) id: `-AppId` of New-ServicePrincipal."""
    service_principal_object_id: str
    """The service principal's (enterprise app's) object id: `-ObjectId` of New-ServicePrincipal and the trustee of
    mailbox permissions. Never the app registration's object id."""
    mailboxes: tuple[Mailbox, ...]
    """app-only: the mailboxes the app may open; delegated: empty."""
    exchange_access: str = EXCHANGE_ACCESS[0]
    """app-only: `mailbox-permissions` (FullAccess, SendAs) or `rbac` (a management scope and a role assignment)."""
    sign_in_mailboxes: tuple[str, ...] = ()
    """delegated: the users' mailboxes whose protocol switches the steps turn on and check."""
    sign_in_group: str | None = None
    """delegated: a mail-enabled group whose member mailboxes get the same."""

    @classmethod
    def from_outputs(cls, app: AppOutputs) -> ExchangeApp:
        """Return what the Exchange steps need from one app's validated stack outputs."""
        return cls(app.name, app.display_name, app.flow, app.protocols, app.client_id,
                   app.service_principal_object_id, app.mailboxes, app.exchange_access, app.sign_in_mailboxes,
                   app.sign_in_group)

    @property
    def rbac(self) -> bool:
        """Whether Exchange RBAC for Applications, not mailbox permissions, lets this app send."""
        return self.exchange_access == RBAC

    @property
    def rbac_name(self) -> str:
        """The name of the app's management scope and of its role assignment (unique per client id; 64 at most)."""
        return f"exo-oauth-{self.client_id}"

    @property
    def rbac_filter(self) -> str:
        """The scope's recipient filter: exactly the app's mailboxes, by any of their addresses.

        Addresses reach it validated and without quotes (config: rbac), so each is one OPATH text value.
        """
        return " -or ".join(f"(EmailAddresses -eq '{box.address}')" for box in self.mailboxes)


@dataclass(frozen=True)
class ExchangeInputs:
    """Everything one stack's scripts are rendered from."""

    stack: str
    """The stack name, shown in the scripts' header."""
    tenant_id: str
    """The tenant GUID; the scripts refuse to run against another tenant."""
    apps: tuple[ExchangeApp, ...]
    """The apps, sorted by name so every caller renders the same text."""
    exchange: ExchangeConfig
    """How the scripts connect and what they may change tenant-wide."""
    cloud: str = DEFAULT_CLOUD
    """The tenant's cloud (`exo-oauth:cloud`); it gives the scripts' `-ExchangeEnvironmentName`."""

    @property
    def exchange_environment(self) -> str:
        """The cloud's `Connect-ExchangeOnline -ExchangeEnvironmentName` (exo_domain.microsoft)."""
        return CLOUDS[self.cloud].exchange_environment_name


def exchange_inputs(
    stack: str, tenant_id: str, apps: Mapping[str, Any], exchange: ExchangeConfig, source: str = "stack outputs",
    *, cloud: str = DEFAULT_CLOUD,
) -> ExchangeInputs:
    """Validate the `apps` stack output with the outputs model (exo_domain.outputs) and return the renderer's inputs.

    Raises ConfigError naming `source` and a key path such as `apps.scanners.clientId`.
    """
    if not isinstance(apps, Mapping):
        raise ConfigError(source, "apps", "must be a mapping of app name to app outputs")
    parsed = [ExchangeApp.from_outputs(AppOutputs.from_wire(apps[name], source, name)) for name in apps]
    return build_exchange_inputs(stack, tenant_id, parsed, exchange, source, cloud=cloud)


def build_exchange_inputs(
    stack: str, tenant_id: str, apps: Sequence[ExchangeApp], exchange: ExchangeConfig, source: str,
    *, cloud: str = DEFAULT_CLOUD,
) -> ExchangeInputs:
    """Check the stack name, tenant GUID and cloud and return the renderer's inputs, apps sorted by name."""
    if not STACK_NAME.fullmatch(stack):
        raise ConfigError(source, "stack", f"{stack!r} is not a stack name; allowed: letters, digits, '-', '_', '.'")
    tenant = guid(At(source, "tenantId", tenant_id))
    known_cloud = one_of(At(source, "cloud", cloud), tuple(CLOUDS))
    return ExchangeInputs(stack, tenant, tuple(sorted(apps, key=lambda app: app.name)), exchange, known_cloud)


SERVICE_PRINCIPAL = "ServicePrincipal"
"""What a Revocation takes back when an app left: its Exchange service principal."""
ROLE_ASSIGNMENT = "RoleAssignment"
MANAGEMENT_SCOPE = "ManagementScope"
"""What a Revocation takes back when an rbac app left or stopped using rbac: its role assignment, then its scope."""
SCOPE_MEMBER = RBAC_SEND
"""A mailbox taken out of an rbac app's scope: apply narrows the scope's filter, so it needs no step of its own."""
RBAC_ROLE = "Application SMTP.SendAsApp"
"""The one role Exchange RBAC for Applications supports for SMTP (smtp-app-rbac-onboarding.md)."""


@dataclass(frozen=True)
class Revocation:
    """One thing a deploy takes back in Exchange Online: held under the previous outputs, not under the new ones."""

    app: ExchangeApp
    """The app as it was deployed before (its IDs are those the right was granted to)."""
    what: str
    """A right of `mailbox_rights` (SCOPE_MEMBER for rbac), SERVICE_PRINCIPAL, ROLE_ASSIGNMENT or MANAGEMENT_SCOPE."""
    mailbox: str | None = None
    """The mailbox of a right; None for the service principal."""

    def describe(self) -> str:
        """Say it in words, e.g. `SendAs on frontdesk@contoso.com` or `its Exchange service principal`."""
        return {
            SERVICE_PRINCIPAL: "its Exchange service principal",
            ROLE_ASSIGNMENT: f"its role assignment '{RBAC_ROLE}'",
            MANAGEMENT_SCOPE: "its management scope",
            SCOPE_MEMBER: f"sending as {self.mailbox} (taken out of its management scope)",
        }.get(self.what, f"{self.what} on {self.mailbox}")


def _held(app: ExchangeApp | None) -> dict[tuple[str, str], str]:
    """Return what apply gives `app` per mailbox, keyed by (lower-case mailbox, right or SCOPE_MEMBER)."""
    if app is None:
        return {}
    return {(box.address.lower(), right): box.address
            for box in app.mailboxes for right in mailbox_rights(app.exchange_access, box.send_as)}


def revocations(previous: Sequence[ExchangeApp], current: Sequence[ExchangeApp]) -> tuple[Revocation, ...]:
    """Return what `previous` held in Exchange Online and `current` does not, apps in name order.

    An app counts as the same only with the same name, the same service principal object id and still app-only;
    otherwise every right it held is revoked, then its Exchange service principal. An rbac app that left or stopped
    using rbac loses its role assignment and scope; one that stays loses mailboxes by a narrower scope
    (SCOPE_MEMBER). Delegated apps hold nothing in Exchange Online. Protocol switches are never revoked
    (docs/decisions/0130).
    """
    same = {(app.name, app.service_principal_object_id): app for app in current if app.flow == "app-only"}
    found: list[Revocation] = []
    for old in sorted(previous, key=lambda app: app.name):
        if old.flow != "app-only":
            continue
        new = same.get((old.name, old.service_principal_object_id))
        kept = _held(new)
        found += [Revocation(old, right, address) for (box, right), address in _held(old).items()
                  if (box, right) not in kept and (right != SCOPE_MEMBER or (new is not None and new.rbac))]
        if old.rbac and (new is None or not new.rbac):
            found += [Revocation(old, ROLE_ASSIGNMENT), Revocation(old, MANAGEMENT_SCOPE)]
        if new is None:
            found.append(Revocation(old, SERVICE_PRINCIPAL))
    return tuple(found)


@dataclass(frozen=True)
class _Step:
    """One line of a script: a step function called with literal arguments."""

    noun: str
    args: tuple[tuple[str, str], ...]
    revoke: bool = False
    """A revocation in the apply script: called with the remove script's verb (Revoke, Unregister)."""


def _sp_args(app: ExchangeApp) -> tuple[tuple[str, str], ...]:
    return (("App", app.name), ("AppId", app.client_id), ("ObjectId", app.service_principal_object_id),
            ("DisplayName", app.display_name))


def _scope_step(app: ExchangeApp) -> _Step:
    return _Step(MANAGEMENT_SCOPE, (("App", app.name), ("Name", app.rbac_name), ("Filter", app.rbac_filter)))


def _assignment_step(app: ExchangeApp) -> _Step:
    # -App of New-ManagementRoleAssignment takes the service principal's ObjectId (docs/decisions/0131).
    return _Step(ROLE_ASSIGNMENT, (("App", app.name), ("Name", app.rbac_name), ("Role", RBAC_ROLE),
                                   ("ObjectId", app.service_principal_object_id), ("Scope", app.rbac_name)))


def _revocation_step(revocation: Revocation) -> _Step | None:
    app = revocation.app
    if revocation.what == SCOPE_MEMBER:
        return None
    if revocation.what == MANAGEMENT_SCOPE:
        return replace(_scope_step(app), revoke=True)
    if revocation.what == ROLE_ASSIGNMENT:
        return replace(_assignment_step(app), revoke=True)
    if revocation.mailbox is None:
        return _Step("ServicePrincipal", _sp_args(app), revoke=True)
    return _Step("Right", (("Right", revocation.what), ("App", app.name), ("Mailbox", revocation.mailbox),
                           ("Trustee", app.service_principal_object_id)), revoke=True)


_VERBS: dict[str, dict[str, str]] = {
    "ServicePrincipal": {"apply": "Register", "verify": "Test", "remove": "Unregister"},
    "Right": {"apply": "Grant", "verify": "Test", "remove": "Revoke"},
    "MailboxProtocol": {"apply": "Enable", "verify": "Test", "remove": "Show"},
    "GroupProtocol": {"apply": "Enable", "verify": "Test", "remove": "Show"},
    "TenantProtocol": {"apply": "Show", "verify": "Show"},
    "TenantSmtpAuth": {"apply": "Set", "verify": "Test"},
    MANAGEMENT_SCOPE: {"apply": "Set", "verify": "Test", "remove": "Remove"},
    ROLE_ASSIGNMENT: {"apply": "Grant", "verify": "Test", "remove": "Revoke"},
    "SendAuthorization": {"verify": "Test"},
    "UndeclaredRight": {"verify": "Test"},
}
"""Per step noun, the verb of its function in each script; a script without a verb for a noun skips that step."""


def _steps(inputs: ExchangeInputs) -> list[_Step]:
    """Return apply's steps in order; verify checks the same list, remove undoes it backwards."""
    steps: list[_Step] = []
    switches: dict[tuple[str, str], None] = {}
    for app in inputs.apps:
        if app.flow == "delegated":
            steps += [_Step("TenantProtocol", (("App", app.name), ("Protocol", p), *_switch(p))) for p in app.protocols]
            switches.update({(box, p): None for box in app.sign_in_mailboxes for p in app.protocols})
            if app.sign_in_group is not None:
                steps += [_Step("GroupProtocol", (("App", app.name), ("Group", app.sign_in_group), *_switch(p)))
                          for p in app.protocols]
            continue
        steps.append(_Step("ServicePrincipal", _sp_args(app)))
        steps += _rbac_steps(app) if app.rbac else _right_steps(app)
        steps.append(_Step("UndeclaredRight", (("App", app.name), ("Trustee", app.service_principal_object_id))))
        switches.update({(box.address, p): None for box in app.mailboxes for p in app.protocols})
    steps += [_Step("MailboxProtocol", (("Mailbox", box), *_switch(p))) for box, p in switches]
    steps.append(_Step("TenantSmtpAuth", (("Setting", inputs.exchange.tenant_smtp_auth),)))
    return steps


def _right_steps(app: ExchangeApp) -> list[_Step]:
    """FullAccess on each mailbox, and SendAs where the stack says so."""
    steps = []
    for box in app.mailboxes:
        mailbox_args = (("App", app.name), ("Mailbox", box.address), ("Trustee", app.service_principal_object_id))
        steps.append(_Step("Right", (("Right", "FullAccess"), *mailbox_args)))
        if box.send_as:
            steps.append(_Step("Right", (("Right", "SendAs"), *mailbox_args)))
    return steps


def _rbac_steps(app: ExchangeApp) -> list[_Step]:
    """Return the scope of exactly the app's mailboxes, the role assignment on it, and (verify) each mailbox's check."""
    checks = [_Step("SendAuthorization", (("App", app.name), ("ObjectId", app.service_principal_object_id),
                                          ("Mailbox", box.address), ("Role", RBAC_ROLE))) for box in app.mailboxes]
    return [_scope_step(app), _assignment_step(app), *checks]


def _switch(protocol: str) -> tuple[tuple[str, str], ...]:
    """Return the arguments naming the protocol's Set-CASMailbox switch, the value that turns it on, and its label."""
    facts = PROTOCOLS_BY_NAME[protocol]
    return (("Label", facts.cas_label), ("Property", facts.cas_switch), ("Wanted", str(facts.cas_enabled_value)))


OFFLINE_BANNER = ("NOT RUNNABLE: rendered by `exo-oauth exchange --offline` from the offline plan; every per-tenant "
                  "ID is a stand-in (00000000-...). Deploy the stack, then run `exo-oauth exchange` without --offline.")
"""The first line of an offline script, and what it throws if someone runs it anyway."""


def render_exchange_scripts(
    inputs: ExchangeInputs, *, offline: bool = False, previous: Sequence[ExchangeApp] = (),
) -> dict[str, str]:
    """Return the three scripts of one stack, keyed `apply`, `verify` and `remove`.

    `offline=True` (IDs are the plan's stand-ins) puts OFFLINE_BANNER on top and makes the script throw it before
    signing in. `previous` (the apps of the outputs before the update) makes apply first revoke what they held and
    `inputs` does not (`revocations`), each step checking before it changes.
    """
    steps = _steps(inputs)
    revoked = [step for r in revocations(previous, inputs.apps) if (step := _revocation_step(r)) is not None]
    return {action: _script(inputs, action, [*revoked, *steps] if action == "apply" else steps, offline)
            for action in ACTIONS}


def _script(inputs: ExchangeInputs, action: str, steps: Sequence[_Step], offline: bool) -> str:
    ordered = reversed(steps) if action == "remove" else steps
    calls = [(f"{_VERBS[s.noun]['remove' if s.revoke else action]}-ExoOAuth{s.noun}", s.args)
             for s in ordered if action in _VERBS[s.noun]]
    lines = [f"{name} " + " ".join(f"-{key} {ps_literal(value)}" for key, value in args) for name, args in calls]
    if lines:
        prelude = _SCAN if action == "verify" else ""
        body = _BODY.format(tenant=ps_literal(inputs.tenant_id), prelude=prelude,
                            steps="\n".join(f"    {line}" for line in lines))
    else:
        body = "\nWrite-ExoOAuthStep 'ok' 'Nothing to do: this stack made no Exchange Online changes.'\n"
    if action == "verify":
        body += f"if (Complete-ExoOAuthVerify) {{ exit {EXIT_DRIFT} }}\n"
    exchange = inputs.exchange
    head = _HEADER.format(min=MODULE_VERSIONS[0], max=MODULE_VERSIONS[1], stack=inputs.stack,
                          tenant=inputs.tenant_id, drift=EXIT_DRIFT,
                          summary=(_REVOKING if any(s.revoke for s in steps) else "") + _SUMMARIES[action])
    params = _PARAMS.format(
        app_id=ps_literal(exchange.app_id or ""),
        thumbprint=ps_literal(exchange.certificate_thumbprint or ""),
        file=ps_literal(exchange.certificate_file_path or ""),
        password=ps_literal(exchange.certificate_password_variable or ""),
        organization=ps_literal(exchange.organization or ""),
        environment=ps_literal(inputs.exchange_environment),
        scan=_SCAN_PARAM if action == "verify" else "",
    )
    if offline:
        head = f"# {OFFLINE_BANNER}\n{head}"
        params += f"throw {ps_literal(OFFLINE_BANNER)}\n"
    return f"{head}{params}\n{import_lines()}{body}"

_REVOKING = ("First revokes what the previous deploy granted and the stack no longer declares (listed as the\n"
             "    Revoke and Unregister steps below; rendered with --previous).\n    ")

_SUMMARIES = {
    "apply": "Registers each app-only app's service principal in Exchange Online, grants it FullAccess (and SendAs\n"
             "    where the stack says so) on its mailboxes, turns the app's protocols on for those mailboxes, and\n"
             "    reports tenant-wide SMTP AUTH (changing it only when exchange.tenantSmtpAuth is enable or disable).\n"
             "    For delegated apps it only reports whether their protocols are on. Safe to run again; steps that\n"
             "    fail while Exchange Online has not yet seen a new service principal are retried for some minutes.",
    "verify": "Read-only. Checks every item apply sets and lists each one that drifted, and the SendAs (and, with\n"
              "    -FullAccessScanLimit N, the FullAccess on up to N mailboxes) each app-only app holds undeclared.",
    "remove": "Removes the SendAs and FullAccess permissions and the Exchange service principals that apply added.\n"
              "    Leaves mailbox protocol switches and tenant-wide SMTP AUTH as they are. Run it before\n"
              "    `pulumi destroy`.",
}

_HEADER = """\
#Requires -Version 7.0
#Requires -Modules @{{ ModuleName = 'ExchangeOnlineManagement'; ModuleVersion = '{min}'; MaximumVersion = '{max}' }}
<#
.SYNOPSIS
    exo-oauth Exchange Online steps for stack {stack} (tenant {tenant}).
.DESCRIPTION
    {summary}
    Generated by exo-oauth from the stack's deployed IDs; it carries IDs and addresses only, never a secret.
    Runs with the ExoOAuth.psm1 exo-oauth writes beside it (`exo-oauth exchange --out DIR`, or pulumi up's
    out/<stack>/), and stops before signing in if that file is missing or changed.
    Signs in interactively, or with certificate app-only auth when -AppId and -Organization are given with
    -Certificate, -CertificateFilePath (its password read from the environment variable named by
    -CertificatePasswordVariable) or -CertificateThumbprint (Windows only). Defaults come from the stack's
    exo-oauth:exchange.
    Exit status: 0 done, 1 error, {drift} drift found (verify only).
#>
"""

_PARAMS = """\
[CmdletBinding()]
param(
    [string] $AppId = {app_id},
    [string] $CertificateThumbprint = {thumbprint},
    [string] $CertificateFilePath = {file},
    [string] $CertificatePasswordVariable = {password},
    [System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate,
    [string] $Organization = {organization},
    [string] $DelegatedOrganization = '',
{scan}    [string] $ExchangeEnvironmentName = {environment}
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
"""

_SCAN_PARAM = "    [ValidateRange(0, 2147483647)] [int] $FullAccessScanLimit = 0,\n"
"""verify only: how many mailboxes the opt-in pass reads for undeclared FullAccess (docs/exchange.md)."""
_SCAN = "Set-ExoOAuthFullAccessScan -Limit $FullAccessScanLimit\n"

_BODY = """
$TenantId = {tenant}
$signIn = @{{
    AppId = $AppId; CertificateThumbprint = $CertificateThumbprint; Certificate = $Certificate
    CertificateFilePath = $CertificateFilePath; CertificatePasswordVariable = $CertificatePasswordVariable
    Organization = $Organization; DelegatedOrganization = $DelegatedOrganization
    ExchangeEnvironmentName = $ExchangeEnvironmentName; TenantId = $TenantId
}}
{prelude}Connect-ExoOAuth @signIn
try {{
{steps}
}}
finally {{
    Disconnect-ExchangeOnline -Confirm:$false
}}
"""
