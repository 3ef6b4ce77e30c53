"""Render one stack's Exchange Online PowerShell: the apply, verify and remove scripts.

Pure: plain values in, text out; no Pulumi, no I/O. `exchange_inputs` validates every value first (IDs as GUIDs,
mailboxes as addresses) and raises ConfigError naming the key path. `render_exchange_scripts` then writes each value
into the text only as a single-quoted literal (`ps_literal`), and only as an argument of a step call, never in a
comment or an expandable string. One table of steps drives all three scripts; each action maps a step to its own
PowerShell function (apply: Register/Grant/Enable/Set, verify: Test, remove: Unregister/Revoke).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import STACK_NAME, At, ExchangeConfig, Mailbox, guid
from .errors import ConfigError
from .exchange_actions import ACTIONS, EXIT_DRIFT
from .outputs import AppOutputs
from .powershell import ps_literal

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

    @classmethod
    def from_outputs(cls, app: AppOutputs) -> ExchangeApp:
        """Return what the Exchange steps need from one app's validated stack outputs."""
        return cls(app.name, app.display_name, app.flow, app.protocols, app.client_id,
                   app.service_principal_object_id, app.mailboxes)


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


def exchange_inputs(
    stack: str, tenant_id: str, apps: Mapping[str, Any], exchange: ExchangeConfig, source: str = "stack outputs"
) -> ExchangeInputs:
    """Validate the `apps` stack output with the outputs model (components.outputs) and return the renderer's inputs.

    Raises ConfigError naming `source` and a key path such as `apps.scanners.clientId`.
    """
    if not isinstance(apps, Mapping):
        raise ConfigError(source, "apps", "must be a mapping of app name to app outputs")
    parsed = [ExchangeApp.from_outputs(AppOutputs.from_wire(apps[name], source, name)) for name in apps]
    return build_exchange_inputs(stack, tenant_id, parsed, exchange, source)


def build_exchange_inputs(
    stack: str, tenant_id: str, apps: Sequence[ExchangeApp], exchange: ExchangeConfig, source: str
) -> ExchangeInputs:
    """Check the stack name and tenant GUID and return the renderer's inputs, apps sorted by name."""
    if not STACK_NAME.fullmatch(stack):
        raise ConfigError(source, "stack", f"{stack!r} is not a stack name; allowed: letters, digits, '-', '_', '.'")
    tenant = guid(At(source, "tenantId", tenant_id))
    return ExchangeInputs(stack, tenant, tuple(sorted(apps, key=lambda app: app.name)), exchange)


@dataclass(frozen=True)
class _Step:
    """One line of a script: a step function called with literal arguments."""

    noun: str
    args: tuple[tuple[str, str], ...]


_VERBS: dict[str, dict[str, str]] = {
    "ServicePrincipal": {"apply": "Register", "verify": "Test", "remove": "Unregister"},
    "Right": {"apply": "Grant", "verify": "Test", "remove": "Revoke"},
    "MailboxProtocol": {"apply": "Enable", "verify": "Test", "remove": "Show"},
    "TenantProtocol": {"apply": "Show", "verify": "Show"},
    "TenantSmtpAuth": {"apply": "Set", "verify": "Test"},
}
"""Per step noun, the verb of its function in each script; a script without a verb for a noun skips that step."""


def _steps(inputs: ExchangeInputs) -> list[_Step]:
    """Return apply's steps in order; verify checks the same list, remove undoes it backwards."""
    steps: list[_Step] = []
    switches: dict[tuple[str, str], None] = {}
    for app in inputs.apps:
        if app.flow == "delegated":
            steps += [_Step("TenantProtocol", (("App", app.name), ("Protocol", p))) for p in app.protocols]
            continue
        trustee = app.service_principal_object_id
        steps.append(_Step("ServicePrincipal", (("App", app.name), ("AppId", app.client_id),
                                                ("ObjectId", trustee), ("DisplayName", app.display_name))))
        for box in app.mailboxes:
            mailbox_args = (("App", app.name), ("Mailbox", box.address), ("Trustee", trustee))
            steps.append(_Step("Right", (("Right", "FullAccess"), *mailbox_args)))
            if box.send_as:
                steps.append(_Step("Right", (("Right", "SendAs"), *mailbox_args)))
            switches.update({(box.address, p): None for p in app.protocols})
    steps += [_Step("MailboxProtocol", (("Mailbox", box), ("Protocol", p))) for box, p in switches]
    steps.append(_Step("TenantSmtpAuth", (("Setting", inputs.exchange.tenant_smtp_auth),)))
    return steps


def render_exchange_scripts(inputs: ExchangeInputs) -> dict[str, str]:
    """Return the three scripts of one stack, keyed `apply`, `verify` and `remove`."""
    steps = _steps(inputs)
    return {action: _script(inputs, action, steps) for action in ACTIONS}


def _script(inputs: ExchangeInputs, action: str, steps: Sequence[_Step]) -> str:
    ordered = reversed(steps) if action == "remove" else steps
    calls = [(f"{_VERBS[s.noun][action]}-ExoOAuth{s.noun}", s.args) for s in ordered if action in _VERBS[s.noun]]
    lines = [f"{name} " + " ".join(f"-{key} {ps_literal(value)}" for key, value in args) for name, args in calls]
    if lines:
        wanted = ["Connect-ExoOAuth", *(name for name, _ in calls)]
        body = _BODY.format(tenant=ps_literal(inputs.tenant_id), steps="\n".join(f"    {line}" for line in lines))
    else:
        wanted = ["Write-ExoOAuthStep"]
        body = "\nWrite-ExoOAuthStep 'ok' 'Nothing to do: this stack made no Exchange Online changes.'\n"
    ending = _VERIFY_ENDING if action == "verify" else ""
    exchange = inputs.exchange
    return (
        _HEADER.format(min=MODULE_VERSIONS[0], max=MODULE_VERSIONS[1], stack=inputs.stack, tenant=inputs.tenant_id,
                       summary=_SUMMARIES[action], drift=EXIT_DRIFT)
        + _PARAMS.format(app_id=ps_literal(exchange.app_id or ""),
                         thumbprint=ps_literal(exchange.certificate_thumbprint or ""),
                         organization=ps_literal(exchange.organization or ""))
        + "".join(f"\n{_FUNCTIONS[name][0]}" for name in _needed(wanted))
        + body
        + ending
    )


def _needed(names: Sequence[str]) -> list[str]:
    """Return the functions `names` call, with their dependencies, in definition order."""
    found: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending += _FUNCTIONS[name][1]
    return [name for name in _FUNCTIONS if name in found]


_SUMMARIES = {
    "apply": "Registers each app-only app's service principal in Exchange Online, grants it FullAccess (and SendAs\n"
             "    where the stack says so) on its mailboxes, turns the app's protocols on for those mailboxes, and\n"
             "    reports tenant-wide SMTP AUTH (changing it only when exchange.tenantSmtpAuth is enable or disable).\n"
             "    For delegated apps it only reports whether their protocols are on. Safe to run again.",
    "verify": "Read-only. Checks every item apply sets and lists each one that drifted.",
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
    Signs in interactively, or with certificate app-only auth when -AppId, -Organization and
    -CertificateThumbprint (Windows) or -Certificate are given (defaults come from the stack's exo-oauth:exchange).
    Exit status: 0 done, 1 error, {drift} drift found (verify only).
#>
"""

_PARAMS = """\
[CmdletBinding()]
param(
    [string] $AppId = {app_id},
    [string] $CertificateThumbprint = {thumbprint},
    [System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate,
    [string] $Organization = {organization},
    [string] $DelegatedOrganization = ''
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
"""

_BODY = """
$TenantId = {tenant}
$signIn = @{{
    AppId = $AppId; CertificateThumbprint = $CertificateThumbprint; Certificate = $Certificate
    Organization = $Organization; DelegatedOrganization = $DelegatedOrganization; TenantId = $TenantId
}}
Connect-ExoOAuth @signIn
try {{
{steps}
}}
finally {{
    Disconnect-ExchangeOnline -Confirm:$false
}}
"""

_VERIFY_ENDING = f"""
if ($script:ExoOAuthDrift.Count) {{
    Write-Host "$($script:ExoOAuthDrift.Count) drifted item(s):"
    foreach ($item in $script:ExoOAuthDrift) {{ Write-Host "  - $item" }}
    exit {EXIT_DRIFT}
}}
Write-Host 'No drift.'
"""

_FUNCTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Write-ExoOAuthStep": ("""\
function Write-ExoOAuthStep {
    param([Parameter(Mandatory)] [string] $Status, [Parameter(Mandatory)] [string] $Message)
    Write-Host ('{0,-8} {1}' -f $Status, $Message)
}
""", ()),
    "Add-ExoOAuthDrift": ("""\
$script:ExoOAuthDrift = [System.Collections.Generic.List[string]]::new()
function Add-ExoOAuthDrift {
    param([Parameter(Mandatory)] [string] $Message)
    $script:ExoOAuthDrift.Add($Message)
    Write-ExoOAuthStep 'DRIFT' $Message
}
""", ("Write-ExoOAuthStep",)),
    "Test-ExoOAuthNotFound": ("""\
function Test-ExoOAuthNotFound {
    param([Parameter(Mandatory)] [System.Management.Automation.ErrorRecord] $ErrorRecord)
    ("$($ErrorRecord.CategoryInfo.Reason)" -eq 'ManagementObjectNotFoundException') -or
        ("$($ErrorRecord.Exception.Message)" -match "couldn't be found")
}
""", ()),
    "Connect-ExoOAuth": ("""\
function Connect-ExoOAuth {
    param(
        [string] $AppId, [string] $CertificateThumbprint,
        [System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate,
        [string] $Organization, [string] $DelegatedOrganization,
        [Parameter(Mandatory)] [string] $TenantId
    )
    $connect = @{ ShowBanner = $false }
    if ($AppId -or $CertificateThumbprint -or $Certificate) {
        if (-not ($AppId -and $Organization -and ($CertificateThumbprint -or $Certificate))) {
            throw 'Certificate app-only sign-in needs -AppId, -Organization and -CertificateThumbprint or -Certificate.'
        }
        $connect.AppId = $AppId
        $connect.Organization = $Organization
        if ($Certificate) {
            $connect.Certificate = $Certificate
        }
        else {
            if (-not $IsWindows) {
                Write-Warning 'Connect-ExchangeOnline takes -CertificateThumbprint only on Windows; pass -Certificate.'
            }
            $connect.CertificateThumbprint = $CertificateThumbprint
        }
        Write-ExoOAuthStep 'connect' "certificate app-only sign-in as app $AppId to $Organization"
    }
    else {
        if ($DelegatedOrganization) {
            $connect.DelegatedOrganization = $DelegatedOrganization
        }
        Write-ExoOAuthStep 'connect' "interactive sign-in to tenant $TenantId (role group: Organization Management)"
    }
    Connect-ExchangeOnline @connect
    # An interactive sign-in can land in any tenant the account belongs to: check before changing anything.
    $connection = Get-ConnectionInformation | Where-Object { "$($_.State)" -eq 'Connected' } | Select-Object -Last 1
    $connected = ''
    if ($connection -and $connection.PSObject.Properties['TenantID']) {
        $connected = "$($connection.TenantID)"
    }
    if (-not $connected) {
        Write-Warning "Could not read the connected tenant's id; this script is for tenant $TenantId."
    }
    elseif ($connected -ne $TenantId) {
        Disconnect-ExchangeOnline -Confirm:$false
        throw "Signed in to tenant $connected, but this script is for tenant $TenantId. Nothing was changed."
    }
}
""", ("Write-ExoOAuthStep",)),
    "Resolve-ExoOAuthMailbox": ("""\
$script:ExoOAuthMailboxes = @{}
function Resolve-ExoOAuthMailbox {
    param([Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string] $Address)
    if (-not $script:ExoOAuthMailboxes.ContainsKey($Address)) {
        try {
            $found = @(Get-Mailbox -Identity $Address -ErrorAction Stop)
        }
        catch {
            if (-not (Test-ExoOAuthNotFound $_)) { throw }
            $found = @()
        }
        # Exact matches only: an Exchange Get- cmdlet may answer an unknown identity with every object.
        $exact = @($found | Where-Object { @($_.EmailAddresses) -contains "smtp:$Address" })
        if ($exact.Count -gt 1) {
            throw "More than one mailbox has the address $Address."
        }
        $script:ExoOAuthMailboxes[$Address] = if ($exact.Count) { $exact[0] } else { $null }
    }
    $script:ExoOAuthMailboxes[$Address]
}
""", ("Test-ExoOAuthNotFound",)),
    "Find-ExoOAuthServicePrincipal": ("""\
function Find-ExoOAuthServicePrincipal {
    param(
        [Parameter(Mandatory)] [ValidateSet('AppId', 'ObjectId')] [string] $By,
        [Parameter(Mandatory)] [ValidatePattern('^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}\\z')] [string] $Id
    )
    try {
        $found = @(Get-ServicePrincipal -Identity $Id -ErrorAction Stop)
    }
    catch {
        if (-not (Test-ExoOAuthNotFound $_)) { throw }
        $found = @()
    }
    # Exact matches only: Get-ServicePrincipal answers an empty or unknown -Identity with every service principal.
    @($found | Where-Object { "$($_.$By)" -eq $Id })
}
""", ("Test-ExoOAuthNotFound",)),
    "Get-ExoOAuthRight": ("""\
function Get-ExoOAuthRight {
    param(
        [Parameter(Mandatory)] [ValidateSet('FullAccess', 'SendAs')] [string] $Right,
        [Parameter(Mandatory)] [object] $Box,
        [Parameter(Mandatory)] [string] $Trustee
    )
    if ($Right -eq 'FullAccess') {
        @(Get-MailboxPermission -Identity "$($Box.Guid)" -User $Trustee -ErrorAction Stop | Where-Object {
                (@($_.AccessRights) -join ',') -match '\\bFullAccess\\b' -and "$($_.Deny)" -ne 'True' -and
                "$($_.IsInherited)" -ne 'True'
            })
    }
    else {
        @(Get-RecipientPermission -Identity "$($Box.Guid)" -Trustee $Trustee -AccessRights SendAs -ErrorAction Stop |
            Where-Object { "$($_.AccessControlType)" -eq 'Allow' })
    }
}
""", ()),
    "Get-ExoOAuthSwitch": ("""\
function Get-ExoOAuthSwitch {
    param([Parameter(Mandatory)] [ValidateSet('imap', 'pop', 'smtp')] [string] $Protocol)
    @{
        imap = @{ Property = 'ImapEnabled'; Wanted = $true; Label = 'IMAP' }
        pop  = @{ Property = 'PopEnabled'; Wanted = $true; Label = 'POP' }
        smtp = @{ Property = 'SmtpClientAuthenticationDisabled'; Wanted = $false; Label = 'SMTP AUTH' }
    }[$Protocol]
}
""", ()),
    "Get-ExoOAuthTenantSmtpAuthDisabled": ("""\
function Get-ExoOAuthTenantSmtpAuthDisabled {
    "$((Get-TransportConfig).SmtpClientAuthenticationDisabled)" -eq 'True'
}
""", ()),
    "Register-ExoOAuthServicePrincipal": ("""\
function Register-ExoOAuthServicePrincipal {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $AppId,
        [Parameter(Mandatory)] [string] $ObjectId, [Parameter(Mandatory)] [string] $DisplayName
    )
    $byObjectId = @(Find-ExoOAuthServicePrincipal -By ObjectId -Id $ObjectId)
    $byAppId = @(Find-ExoOAuthServicePrincipal -By AppId -Id $AppId)
    $current = @($byObjectId | Where-Object { "$($_.AppId)" -eq $AppId })
    if ($current.Count -eq 1 -and $byAppId.Count -eq 1) {
        if ("$($current[0].DisplayName)" -ne $DisplayName) {
            Set-ServicePrincipal -Identity $ObjectId -DisplayName $DisplayName
            Write-ExoOAuthStep 'changed' "app '$App': renamed its Exchange service principal to '$DisplayName'"
        }
        Write-ExoOAuthStep 'ok' "app '$App': Exchange service principal AppId $AppId, ObjectId $ObjectId is registered"
        return
    }
    # A service principal with the wrong ObjectId (often the app registration's) or AppId cannot be fixed in place.
    foreach ($stale in @(@($byObjectId) + @($byAppId) | Sort-Object -Property ObjectId -Unique)) {
        Remove-ServicePrincipal -Identity "$($stale.ObjectId)" -Confirm:$false
        $was = "AppId $($stale.AppId), ObjectId $($stale.ObjectId)"
        Write-ExoOAuthStep 'removed' "app '$App': mismatched Exchange service principal $was"
    }
    New-ServicePrincipal -AppId $AppId -ObjectId $ObjectId -DisplayName $DisplayName | Out-Null
    Write-ExoOAuthStep 'changed' "app '$App': registered Exchange service principal AppId $AppId, ObjectId $ObjectId"
}
""", ("Find-ExoOAuthServicePrincipal", "Write-ExoOAuthStep")),
    "Test-ExoOAuthServicePrincipal": ("""\
function Test-ExoOAuthServicePrincipal {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $AppId,
        [Parameter(Mandatory)] [string] $ObjectId, [Parameter(Mandatory)] [string] $DisplayName
    )
    try {
        $byAppId = @(Find-ExoOAuthServicePrincipal -By AppId -Id $AppId)
        $current = @(Find-ExoOAuthServicePrincipal -By ObjectId -Id $ObjectId |
                Where-Object { "$($_.AppId)" -eq $AppId })
        if ($current.Count -eq 1 -and $byAppId.Count -eq 1) {
            $name = "$($current[0].DisplayName)"
            if ($name -ne $DisplayName) {
                Add-ExoOAuthDrift "app '$App': Exchange service principal is named '$name', not '$DisplayName'"
            }
            else {
                Write-ExoOAuthStep 'ok' "app '$App': Exchange service principal AppId $AppId, ObjectId $ObjectId"
            }
        }
        elseif ($byAppId.Count) {
            $found = ($byAppId | ForEach-Object { "$($_.ObjectId)" }) -join ', '
            Add-ExoOAuthDrift "app '$App': the Exchange service principal of AppId $AppId is $found, not $ObjectId"
        }
        else {
            Add-ExoOAuthDrift "app '$App': no Exchange service principal with AppId $AppId and ObjectId $ObjectId"
        }
    }
    catch {
        Add-ExoOAuthDrift "app '$App': could not check its Exchange service principal: $($_.Exception.Message)"
    }
}
""", ("Find-ExoOAuthServicePrincipal", "Add-ExoOAuthDrift", "Write-ExoOAuthStep")),
    "Unregister-ExoOAuthServicePrincipal": ("""\
function Unregister-ExoOAuthServicePrincipal {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $AppId,
        [Parameter(Mandatory)] [string] $ObjectId, [Parameter(Mandatory)] [string] $DisplayName
    )
    $current = @(Find-ExoOAuthServicePrincipal -By ObjectId -Id $ObjectId | Where-Object { "$($_.AppId)" -eq $AppId })
    if (-not $current.Count) {
        Write-ExoOAuthStep 'absent' "app '$App': no Exchange service principal AppId $AppId, ObjectId $ObjectId"
        return
    }
    Remove-ServicePrincipal -Identity $ObjectId -Confirm:$false
    Write-ExoOAuthStep 'removed' "app '$App': Exchange service principal AppId $AppId, ObjectId $ObjectId"
}
""", ("Find-ExoOAuthServicePrincipal", "Write-ExoOAuthStep")),
    "Grant-ExoOAuthRight": ("""\
function Grant-ExoOAuthRight {
    param(
        [Parameter(Mandatory)] [ValidateSet('FullAccess', 'SendAs')] [string] $Right,
        [Parameter(Mandatory)] [string] $App,
        [Parameter(Mandatory)] [string] $Mailbox,
        [Parameter(Mandatory)] [string] $Trustee
    )
    $box = Resolve-ExoOAuthMailbox -Address $Mailbox
    if (-not $box) { throw "app '$App': mailbox $Mailbox does not exist in Exchange Online." }
    if (@(Get-ExoOAuthRight -Right $Right -Box $box -Trustee $Trustee).Count) {
        Write-ExoOAuthStep 'ok' "app '$App': $Right on $Mailbox"
        return
    }
    if ($Right -eq 'FullAccess') {
        Add-MailboxPermission -Identity "$($box.Guid)" -User $Trustee -AccessRights FullAccess -InheritanceType All |
            Out-Null
    }
    else {
        Add-RecipientPermission -Identity "$($box.Guid)" -Trustee $Trustee -AccessRights SendAs -Confirm:$false |
            Out-Null
    }
    Write-ExoOAuthStep 'changed' "app '$App': granted $Right on $Mailbox"
}
""", ("Resolve-ExoOAuthMailbox", "Get-ExoOAuthRight", "Write-ExoOAuthStep")),
    "Test-ExoOAuthRight": ("""\
function Test-ExoOAuthRight {
    param(
        [Parameter(Mandatory)] [ValidateSet('FullAccess', 'SendAs')] [string] $Right,
        [Parameter(Mandatory)] [string] $App,
        [Parameter(Mandatory)] [string] $Mailbox,
        [Parameter(Mandatory)] [string] $Trustee
    )
    try {
        $box = Resolve-ExoOAuthMailbox -Address $Mailbox
        if (-not $box) {
            Add-ExoOAuthDrift "app '$App': mailbox $Mailbox does not exist"
        }
        elseif (@(Get-ExoOAuthRight -Right $Right -Box $box -Trustee $Trustee).Count) {
            Write-ExoOAuthStep 'ok' "app '$App': $Right on $Mailbox"
        }
        else {
            Add-ExoOAuthDrift "app '$App': no $Right on $Mailbox"
        }
    }
    catch {
        Add-ExoOAuthDrift "app '$App': could not check $Right on ${Mailbox}: $($_.Exception.Message)"
    }
}
""", ("Resolve-ExoOAuthMailbox", "Get-ExoOAuthRight", "Add-ExoOAuthDrift", "Write-ExoOAuthStep")),
    "Revoke-ExoOAuthRight": ("""\
function Revoke-ExoOAuthRight {
    param(
        [Parameter(Mandatory)] [ValidateSet('FullAccess', 'SendAs')] [string] $Right,
        [Parameter(Mandatory)] [string] $App,
        [Parameter(Mandatory)] [string] $Mailbox,
        [Parameter(Mandatory)] [string] $Trustee
    )
    $box = Resolve-ExoOAuthMailbox -Address $Mailbox
    $granted = @()
    if ($box) {
        try {
            $granted = @(Get-ExoOAuthRight -Right $Right -Box $box -Trustee $Trustee)
        }
        catch {
            if (-not (Test-ExoOAuthNotFound $_)) { throw }
        }
    }
    if (-not $granted.Count) {
        Write-ExoOAuthStep 'absent' "app '$App': no $Right on $Mailbox"
        return
    }
    if ($Right -eq 'FullAccess') {
        Remove-MailboxPermission -Identity "$($box.Guid)" -User $Trustee -AccessRights FullAccess `
            -InheritanceType All -Confirm:$false
    }
    else {
        Remove-RecipientPermission -Identity "$($box.Guid)" -Trustee $Trustee -AccessRights SendAs -Confirm:$false
    }
    Write-ExoOAuthStep 'removed' "app '$App': $Right on $Mailbox"
}
""", ("Resolve-ExoOAuthMailbox", "Get-ExoOAuthRight", "Test-ExoOAuthNotFound", "Write-ExoOAuthStep")),
    "Enable-ExoOAuthMailboxProtocol": ("""\
function Enable-ExoOAuthMailboxProtocol {
    param([Parameter(Mandatory)] [string] $Mailbox, [Parameter(Mandatory)] [string] $Protocol)
    $switch = Get-ExoOAuthSwitch -Protocol $Protocol
    $box = Resolve-ExoOAuthMailbox -Address $Mailbox
    if (-not $box) { throw "Mailbox $Mailbox does not exist in Exchange Online." }
    $current = (Get-CASMailbox -Identity "$($box.Guid)").($switch.Property)
    if ("$current" -eq "$($switch.Wanted)") {
        Write-ExoOAuthStep 'ok' "$($switch.Label) is on for $Mailbox ($($switch.Property) $current)"
        return
    }
    $change = @{ Identity = "$($box.Guid)" }
    $change[$switch.Property] = $switch.Wanted
    Set-CASMailbox @change
    Write-ExoOAuthStep 'changed' "$($switch.Label) turned on for $Mailbox ($($switch.Property) was '$current')"
}
""", ("Get-ExoOAuthSwitch", "Resolve-ExoOAuthMailbox", "Write-ExoOAuthStep")),
    "Test-ExoOAuthMailboxProtocol": ("""\
function Test-ExoOAuthMailboxProtocol {
    param([Parameter(Mandatory)] [string] $Mailbox, [Parameter(Mandatory)] [string] $Protocol)
    $switch = Get-ExoOAuthSwitch -Protocol $Protocol
    try {
        $box = Resolve-ExoOAuthMailbox -Address $Mailbox
        if (-not $box) {
            Add-ExoOAuthDrift "mailbox $Mailbox does not exist"
            return
        }
        $current = (Get-CASMailbox -Identity "$($box.Guid)").($switch.Property)
        if ("$current" -eq "$($switch.Wanted)") {
            Write-ExoOAuthStep 'ok' "$($switch.Label) is on for $Mailbox"
        }
        else {
            Add-ExoOAuthDrift "$($switch.Label) is off for $Mailbox ($($switch.Property) is '$current')"
        }
    }
    catch {
        Add-ExoOAuthDrift "could not check $($switch.Label) for ${Mailbox}: $($_.Exception.Message)"
    }
}
""", ("Get-ExoOAuthSwitch", "Resolve-ExoOAuthMailbox", "Add-ExoOAuthDrift", "Write-ExoOAuthStep")),
    "Show-ExoOAuthMailboxProtocol": ("""\
function Show-ExoOAuthMailboxProtocol {
    param([Parameter(Mandatory)] [string] $Mailbox, [Parameter(Mandatory)] [string] $Protocol)
    $switch = Get-ExoOAuthSwitch -Protocol $Protocol
    # Other apps and people may rely on the switch, and apply does not record what it was before.
    Write-ExoOAuthStep 'kept' "$($switch.Property) on $Mailbox is left as it is"
}
""", ("Get-ExoOAuthSwitch", "Write-ExoOAuthStep")),
    "Show-ExoOAuthTenantProtocol": ("""\
function Show-ExoOAuthTenantProtocol {
    param([Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $Protocol)
    $switch = Get-ExoOAuthSwitch -Protocol $Protocol
    if ($Protocol -eq 'smtp') {
        $state = if (Get-ExoOAuthTenantSmtpAuthDisabled) { 'off' } else { 'on' }
        Write-ExoOAuthStep 'report' "app '$App' (delegated): SMTP AUTH is $state tenant-wide (mailboxes may override)"
        return
    }
    $plans = @(Get-CASMailboxPlan)
    $off = @($plans | Where-Object { "$($_.($switch.Property))" -ne 'True' } | ForEach-Object { "$($_.Name)" })
    $status = if ($off.Count) { 'warn' } else { 'report' }
    $where = if ($off.Count) { " (off in $($off -join ', '))" } else { '' }
    $on = $plans.Count - $off.Count
    Write-ExoOAuthStep $status ("app '$App' (delegated): $($switch.Label) is on in $on of $($plans.Count) CAS " +
        "mailbox plans$where; these set new mailboxes, and each mailbox's own $($switch.Property) decides")
}
""", ("Get-ExoOAuthSwitch", "Get-ExoOAuthTenantSmtpAuthDisabled", "Write-ExoOAuthStep")),
    "Set-ExoOAuthTenantSmtpAuth": ("""\
function Set-ExoOAuthTenantSmtpAuth {
    param([Parameter(Mandatory)] [ValidateSet('report', 'enable', 'disable')] [string] $Setting)
    $disabled = Get-ExoOAuthTenantSmtpAuthDisabled
    $state = if ($disabled) { 'off' } else { 'on' }
    if ($Setting -eq 'report') {
        Write-ExoOAuthStep 'report' "SMTP AUTH is $state tenant-wide (left as is: exchange.tenantSmtpAuth is report)"
        return
    }
    $wanted = $Setting -eq 'disable'
    if ($disabled -eq $wanted) {
        Write-ExoOAuthStep 'ok' "SMTP AUTH is $state tenant-wide"
        return
    }
    Set-TransportConfig -SmtpClientAuthenticationDisabled $wanted
    $now = if ($wanted) { 'off' } else { 'on' }
    Write-ExoOAuthStep 'changed' "SMTP AUTH turned $now tenant-wide (SmtpClientAuthenticationDisabled $wanted)"
}
""", ("Get-ExoOAuthTenantSmtpAuthDisabled", "Write-ExoOAuthStep")),
    "Test-ExoOAuthTenantSmtpAuth": ("""\
function Test-ExoOAuthTenantSmtpAuth {
    param([Parameter(Mandatory)] [ValidateSet('report', 'enable', 'disable')] [string] $Setting)
    try {
        $disabled = Get-ExoOAuthTenantSmtpAuthDisabled
        $state = if ($disabled) { 'off' } else { 'on' }
        if ($Setting -eq 'report') {
            Write-ExoOAuthStep 'report' "SMTP AUTH is $state tenant-wide (exchange.tenantSmtpAuth is report)"
        }
        elseif ($disabled -eq ($Setting -eq 'disable')) {
            Write-ExoOAuthStep 'ok' "SMTP AUTH is $state tenant-wide"
        }
        else {
            Add-ExoOAuthDrift "SMTP AUTH is $state tenant-wide, but exchange.tenantSmtpAuth is $Setting"
        }
    }
    catch {
        Add-ExoOAuthDrift "could not check tenant-wide SMTP AUTH: $($_.Exception.Message)"
    }
}
""", ("Get-ExoOAuthTenantSmtpAuthDisabled", "Add-ExoOAuthDrift", "Write-ExoOAuthStep")),
}
"""Every PowerShell function a script may define, with the functions it calls; a script defines only what it uses."""
