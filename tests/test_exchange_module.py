"""The PowerShell module file: the renderer's simple function index agrees with tree-sitter, and nothing is dead."""

import re

import pytest

from exo_domain.config import ExchangeConfig
from exo_domain.exchange_module import index_functions, module_functions, module_text, needed
from exo_domain.exchange_scripts import render_exchange_scripts
from exo_oauth.tenant.exchange_export import export_script
from tests.exchange_factory import app_only, delegated, inputs_for, rbac_app
from tests.powershell_parse import calls, functions, nodes, parse, syntax_problems, text


def test_module_file_parses_without_syntax_errors() -> None:
    """tree-sitter-powershell reads the whole .psm1 without ERROR or MISSING nodes."""
    assert syntax_problems(parse(module_text())) == []


def test_function_index_finds_exactly_the_functions_tree_sitter_finds() -> None:
    """Every top-level function of the file is indexed with the same text tree-sitter gives it."""
    parsed = functions(parse(module_text()))
    indexed = module_functions()
    assert list(indexed) == list(parsed)
    for name, function in indexed.items():
        assert function.text.rstrip("\n").endswith(text(parsed[name])), name


STATE_OWNERS = {"ExoOAuthDrift": "Add-ExoOAuthDrift", "ExoOAuthRetrySeconds": "Invoke-ExoOAuthRetry",
                "ExoOAuthMailboxes": "Resolve-ExoOAuthMailbox", "ExoOAuthDeclared": "Add-ExoOAuthDeclared",
                "ExoOAuthFullAccessScanLimit": "Set-ExoOAuthFullAccessScan"}
"""Each `$script:` variable of the module and the function whose preamble sets it (written out by hand)."""


def test_each_function_depends_on_exactly_the_module_functions_it_calls() -> None:
    """The index's dependencies are the module functions tree-sitter sees called (plus the owner of state it reads)."""
    indexed = module_functions()
    for name, node in functions(parse(module_text())).items():
        called = {c.name for c in calls(node)} & set(indexed) - {name}
        owners = {STATE_OWNERS[v] for v in re.findall(r"\$script:(\w+)", text(node))} - {name}
        assert indexed[name].calls == called | owners, name


def test_script_state_travels_with_the_function_that_owns_it() -> None:
    """The `$script:` lines directly above a function are part of it, so a script inlining it also initialises them."""
    owners = {name: f for name, f in module_functions().items() if "\n$script:" in "\n" + f.text}
    assert {name: f.text.split(" = ", 1)[0].splitlines()[-1] for name, f in owners.items()} == {
        owner: f"$script:{variable}" for variable, owner in STATE_OWNERS.items()}


def test_blank_line_ends_a_preamble_and_an_unclosed_function_is_refused() -> None:
    """A header comment separated by a blank line belongs to no function; a function without its `}` is an error."""
    source = ("# header\n\n# about B\nfunction Get-ExoOAuthOuter {\n    Get-ExoOAuthInner\n}\n"
              "function Get-ExoOAuthInner {\n}\n")
    found = index_functions(source)
    assert found["Get-ExoOAuthOuter"].text.startswith("# about B\nfunction")
    assert found["Get-ExoOAuthOuter"].calls == {"Get-ExoOAuthInner"}
    assert [f.name for f in needed(["Get-ExoOAuthOuter"], found)] == ["Get-ExoOAuthOuter", "Get-ExoOAuthInner"]
    with pytest.raises(ValueError, match="function Get-ExoOAuthOpen has no closing"):
        index_functions("function Get-ExoOAuthOpen {\n    }")


def test_windows_line_endings_in_the_module_do_not_reach_the_scripts() -> None:
    """A module file checked out with CRLF still yields LF function texts."""
    found = index_functions("function Get-ExoOAuthInner {\r\n    'x'\r\n}\r\n")
    assert found["Get-ExoOAuthInner"].text == "function Get-ExoOAuthInner {\n    'x'\n}\n"


def test_every_module_function_is_used_by_some_generated_script() -> None:
    """No dead PowerShell: a stack with every kind of step, and audit's export script, use each function."""
    rendered = render_exchange_scripts(inputs_for(
        {"a": app_only("a", ("imap", "pop", "smtp")), "r": rbac_app("r"),
         "d": delegated("d", ("imap", "smtp"), signInGroup="staff@contoso.com")},
        ExchangeConfig(tenant_smtp_auth="enable")))
    used = set().union(*(functions(parse(script)) for script in [*rendered.values(), export_script()]))
    assert used == set(module_functions())


def test_inlined_functions_are_the_module_text_byte_for_byte() -> None:
    """Each script carries the module's own text of the functions it defines, not a copy that could drift."""
    apply = render_exchange_scripts(inputs_for({"a": app_only("a")}))["apply"]
    for name, node in functions(parse(apply)).items():
        assert module_functions()[name].text in apply, name
        assert text(node) in module_functions()[name].text, name
    assert not [n for n in nodes(parse(apply)) if n.type == "function_statement" and text(n).count("function ") > 1]


def test_every_exchange_read_of_a_new_service_principal_is_inside_the_retry() -> None:
    """Naming a service principal Exchange has not learnt of yet fails like a grant, so its checks retry too.

    In Grant-ExoOAuthRight, every call that names the trustee (Get-ExoOAuthRight's Get-MailboxPermission -User and
    Get-RecipientPermission -Trustee, and the grants) is inside the script block given to Invoke-ExoOAuthRetry.
    """
    grant = functions(parse(module_text()))["Grant-ExoOAuthRight"]
    retries = [n for n in nodes(grant) if n.type == "command" and text(n).startswith("Invoke-ExoOAuthRetry")]
    assert len(retries) == 1
    inside = {c.name for c in calls(retries[0])}
    naming = {c.name for c in calls(grant) if c.name in {"Get-ExoOAuthRight", "Add-MailboxPermission",
                                                          "Add-RecipientPermission"}}
    assert naming == {"Get-ExoOAuthRight", "Add-MailboxPermission", "Add-RecipientPermission"}
    assert naming <= inside
    outside = [c.name for c in calls(grant) if c.name in naming]
    assert len(outside) == len(naming)
