"""Every Exchange Online cmdlet and parameter the module calls is one Microsoft documents for Exchange Online.

The table is read from Microsoft's cmdlet reference (tests/exchange_cmdlets.py names the commit), so a misspelt or
on-premises-only parameter fails here, whatever the goldens say.
"""

from __future__ import annotations

import re

from exo_domain.exchange_module import module_text
from tests.exchange_cmdlets import DOCUMENTED
from tests.powershell_parse import calls, module_function, parse, syntax_problems

CORE = {"Where-Object", "Select-Object", "ForEach-Object", "Sort-Object", "Out-Null", "Write-Host", "Write-Warning",
        "Write-Progress", "Start-Sleep", "ConvertTo-SecureString", "ConvertTo-Json", "Set-Content",
        "Export-ModuleMember", "Set-StrictMode"}
"""PowerShell's own cmdlets the module uses."""
COMMON = {"ErrorAction", "WarningAction", "Verbose"}
"""PowerShell's common parameters, which every cmdlet takes and no cmdlet page lists."""


def _exchange_calls() -> list[tuple[str, set[str]]]:
    root = parse(module_text())
    assert syntax_problems(root) == []
    found = [(c.name, {p for p in c.arguments if p}) for c in calls(root)]
    return [(name, params) for name, params in found
            if re.fullmatch(r"[A-Z][a-z]+-[A-Za-z]+", name) and "-ExoOAuth" not in name and name not in CORE]


def test_every_exchange_cmdlet_the_module_calls_is_documented_for_exchange_online() -> None:
    """A cmdlet outside the documented table fails: add its row from Microsoft's reference first."""
    assert {name for name, _ in _exchange_calls()} <= set(DOCUMENTED)


def test_every_parameter_the_module_passes_is_documented_for_that_cmdlet() -> None:
    """Each named parameter of each call is on the cmdlet's page and applies to Exchange Online."""
    wrong = [(name, sorted(params - DOCUMENTED[name] - COMMON)) for name, params in _exchange_calls()
             if params - DOCUMENTED[name] - COMMON]
    assert wrong == []


def test_the_splatted_sign_in_parameters_are_documented_for_connect_exchange_online() -> None:
    """Connect-ExchangeOnline gets its parameters by splatting: each key set on the hashtable is documented."""
    connect = module_function("Connect-ExoOAuth")
    literal = re.search(r"\$connect = @\{([^}]*)\}", connect)
    assert literal is not None
    keys = set(re.findall(r"\$connect\.(\w+) =", connect)) | set(re.findall(r"(\w+) =", literal.group(1)))
    assert {"ShowBanner", "ExchangeEnvironmentName", "AppId", "CertificatePassword"} <= keys
    assert keys <= DOCUMENTED["Connect-ExchangeOnline"]


def test_the_table_catches_a_parameter_exchange_online_does_not_take() -> None:
    """The contract can fail: -DomainController, an on-premises-only parameter, is not in the table."""
    assert "DomainController" not in DOCUMENTED["Remove-MailboxPermission"]
    assert "Trustee" in DOCUMENTED["Get-RecipientPermission"]
