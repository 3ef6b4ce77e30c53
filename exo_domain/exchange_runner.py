"""Render a runner: one PowerShell process that runs one action's script of several stacks, one after another.

Pure: stack names in, text out. Each stack's script sits in `<stack>/` beside the runner, with the module it imports,
as `exo-oauth exchange --out DIR` writes them. Every script signs in to its own tenant and signs out when it ends, so
the process loads ExchangeOnlineManagement once for all its stacks instead of once per stack (docs/decisions/0191).
A stack's exit status and last line go to `<stack>/<result_name(action)>`, which `exo-oauth drift --exchange-results`
reads; the runner goes on with the next stack whatever one ends with.
"""

from __future__ import annotations

from collections.abc import Sequence

from .config import STACK_NAME
from .exchange_actions import result_name, script_name
from .powershell import ps_literal

PASSED_ON = ("CertificateFilePath", "CertificatePasswordVariable")
"""Sign-in parameters the runner takes and hands to every script (certificate app-only sign-in on a CI runner)."""
VERIFY_PASSED_ON = ("FullAccessScanLimit",)
"""verify only: the opt-in FullAccess scan's bound, handed on the same way."""
RESULT_FIELDS = ("stack", "status", "lastLine")
"""The keys of a stack's result file: its name, its script's exit status, and the script's last line of output."""


def split_stacks(stacks: Sequence[str], runners: int) -> list[list[str]]:
    """Deal `stacks` over at most `runners` runners in turn (the first stack to the first runner), none left empty."""
    count = max(1, min(runners, len(stacks)))
    return [list(stacks[i::count]) for i in range(count)]


def render_runner(action: str, stacks: Sequence[str]) -> str:
    """Return the runner of `action`'s script of each of `stacks`, in the order given.

    Raises ValueError for a name that is not a stack name (they come from stack file names, which are checked).
    """
    bad = [name for name in stacks if not STACK_NAME.fullmatch(name)]
    if bad or not stacks:
        raise ValueError(f"not stack names: {bad or stacks!r}")
    names = ", ".join(ps_literal(name) for name in stacks)
    passed = PASSED_ON + (VERIFY_PASSED_ON if action == "verify" else ())
    params = ",\n".join(f"    [{'int' if name in VERIFY_PASSED_ON else 'string'}] ${name}" for name in passed)
    return _RUNNER.format(action=action, count=len(stacks), params=params, names=names,
                          script=ps_literal(script_name(action)), result=ps_literal(result_name(action)))


_RUNNER = """\
#Requires -Version 7.0
<#
.SYNOPSIS
    exo-oauth: runs the {action} script of {count} stack(s) in this one PowerShell process, one after another.
.DESCRIPTION
    Each stack's script (<stack>/exchange-{action}.ps1 beside this file, written by `exo-oauth exchange --out`) signs
    in to its own tenant and signs out when it ends. The parameters given here are handed to every script; the others
    keep each stack's defaults. Each stack's exit status and last line go to <stack>/exchange-{action}.result.json
    (read by `exo-oauth drift --exchange-results`). Exit status: 0 once every stack has its result.
#>
[CmdletBinding()]
param(
{params}
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

foreach ($stack in @({names})) {{
    $folder = Join-Path -Path $PSScriptRoot -ChildPath $stack
    $path = Join-Path -Path $folder -ChildPath {script}
    $result = Join-Path -Path $folder -ChildPath {result}
    # No result from an earlier run may stand for this one, should this run stop before the stack's end.
    Remove-Item -LiteralPath $result -Force -ErrorAction SilentlyContinue
    $last = ''
    $global:LASTEXITCODE = 0
    try {{
        # *>&1: the script's host lines too, each shown as it comes and the last kept (the drift summary or the
        # error). A script's `exit N` ends that script only and sets $LASTEXITCODE.
        & $path @PSBoundParameters *>&1 | ForEach-Object {{ $last = "$_"; Write-Host "[$stack] $last" }}
        $status = $LASTEXITCODE
    }}
    catch {{
        $last = "$($_.Exception.Message)"
        Write-Host "[$stack] $last"
        $status = 1
    }}
    [ordered]@{{ stack = $stack; status = $status; lastLine = $last }} |
        ConvertTo-Json | Set-Content -Encoding utf8 -LiteralPath $result
}}
"""
