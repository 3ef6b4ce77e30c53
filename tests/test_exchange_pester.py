"""ExoOAuth.psm1 is a real module: what it exports is what the scripts call, and each export has a Pester test.

No pwsh here: these tests check the Pester file (exo_domain/exchange/ExoOAuth.Tests.ps1) statically; admins and
contributors run it where pwsh and Pester 5 exist.
"""

from __future__ import annotations

import re

from exo_domain.config import ExchangeConfig
from exo_domain.exchange_module import module_text
from exo_domain.exchange_scripts import render_exchange_scripts
from tests.exchange_cmdlets import DOCUMENTED
from tests.exchange_factory import app_only, delegated, inputs_for, rbac_app
from tests.powershell_parse import (
    HELPERS,
    calls,
    module_exports,
    module_functions,
    nodes,
    parse,
    step_calls,
    syntax_problems,
    text,
)
from tests.stack_factory import REPO

PESTER = (REPO / "exo_domain" / "exchange" / "ExoOAuth.Tests.ps1").read_text(encoding="utf-8")


def test_the_module_exports_exactly_the_functions_the_generated_scripts_call() -> None:
    """A stack with every kind of step (and audit's export script) calls each export, and nothing else."""
    rendered = render_exchange_scripts(inputs_for(
        {"a": app_only("a", ("imap", "pop", "smtp")), "r": rbac_app("r"),
         "d": delegated("d", ("imap", "smtp"), signInGroup="staff@contoso.com")},
        ExchangeConfig(tenant_smtp_auth="enable")))
    called = {c.name for script in rendered.values() for c in step_calls(parse(script))}
    assert module_exports() == called | HELPERS | {"Export-ExoOAuthExchangeState"}  # the last: audit's export script
    assert module_exports() <= set(module_functions())


def test_the_pester_file_parses_and_has_a_describe_block_for_every_export() -> None:
    """Each exported function is described by name; no Describe names a function the module lacks."""
    root = parse(PESTER)
    assert syntax_problems(root) == []
    described = {c.arguments[""][0].text.decode().strip("'") for c in calls(root) if c.name == "Describe"}
    assert described == module_exports()


def test_every_exchange_cmdlet_the_module_calls_is_stubbed_with_the_parameters_it_passes() -> None:
    """The stubs take exactly what the module passes, so a Pester run also catches a misspelt parameter."""
    stubs = {}
    for node in nodes(parse(PESTER)):
        if node.type == "function_statement":
            name = text(node.child_by_field_name("function_name") or node.children[1]).removeprefix("global:")
            stubs[name] = set(re.findall(r"\$(\w+)", text(node).split("param(", 1)[1].split(")", 1)[0]))
    passed: dict[str, set[str]] = {}
    for call in calls(parse(module_text())):
        if call.name in DOCUMENTED:
            passed.setdefault(call.name, set()).update(k for k in call.arguments if k and k != "ErrorAction")
    assert set(passed) == set(stubs)
    assert all(passed[name] <= stubs[name] <= DOCUMENTED[name] for name in passed)
