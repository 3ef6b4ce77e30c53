#Requires -Version 7.0
<#
.SYNOPSIS
    exo-oauth: runs the verify script of 2 stack(s) in this one PowerShell process, one after another.
.DESCRIPTION
    Each stack's script (<stack>/exchange-verify.ps1 beside this file, written by `exo-oauth exchange --out`) signs
    in to its own tenant and signs out when it ends. The parameters given here are handed to every script; the others
    keep each stack's defaults. Each stack's exit status and last line go to <stack>/exchange-verify.result.json
    (read by `exo-oauth drift --exchange-results`). Exit status: 0 once every stack has its result.
#>
[CmdletBinding()]
param(
    [string] $CertificateFilePath,
    [string] $CertificatePasswordVariable,
    [int] $FullAccessScanLimit
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

foreach ($stack in @('contoso', 'fabrikam')) {
    $folder = Join-Path -Path $PSScriptRoot -ChildPath $stack
    $path = Join-Path -Path $folder -ChildPath 'exchange-verify.ps1'
    $result = Join-Path -Path $folder -ChildPath 'exchange-verify.result.json'
    # No result from an earlier run may stand for this one, should this run stop before the stack's end.
    Remove-Item -LiteralPath $result -Force -ErrorAction SilentlyContinue
    $last = ''
    $global:LASTEXITCODE = 0
    try {
        # *>&1: the script's host lines too, each shown as it comes and the last kept (the drift summary or the
        # error). A script's `exit N` ends that script only and sets $LASTEXITCODE.
        & $path @PSBoundParameters *>&1 | ForEach-Object { $last = "$_"; Write-Host "[$stack] $last" }
        $status = $LASTEXITCODE
    }
    catch {
        $last = "$($_.Exception.Message)"
        Write-Host "[$stack] $last"
        $status = 1
    }
    [ordered]@{ stack = $stack; status = $status; lastLine = $last } |
        ConvertTo-Json | Set-Content -Encoding utf8 -LiteralPath $result
}
