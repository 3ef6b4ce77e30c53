"""verify (and so `exo-oauth drift`) reports rights an app holds in Exchange that the stack does not declare."""

from __future__ import annotations

from exo_domain.exchange_scripts import render_exchange_scripts
from tests.exchange_factory import app_only, delegated, inputs_for, rbac_app
from tests.powershell_parse import calls, module_function, parse, single_literal, step_calls, text


def verify_steps(*apps: dict[str, object]) -> list[tuple[str, dict[str, str]]]:
    """Return the verify script's step calls for hand-written app outputs."""
    script = render_exchange_scripts(inputs_for({str(a["name"]): a for a in apps}))["verify"]
    return [(c.name, {k: single_literal(v) for k, v in c.arguments.items() if k}) for c in step_calls(parse(script))]


def test_each_app_only_app_is_checked_for_undeclared_rights_after_its_declared_ones() -> None:
    """Classic and rbac apps alike, with the service principal as trustee; delegated apps hold nothing to check."""
    scanners, printers = app_only("scanners"), rbac_app("printers")
    steps = verify_steps(scanners, printers, delegated("users"))
    undeclared = [(i, a) for i, (n, a) in enumerate(steps) if n == "Test-ExoOAuthUndeclaredRight"]
    assert [a for _, a in undeclared] == [
        {"App": "printers", "Trustee": printers["servicePrincipalObjectId"]},
        {"App": "scanners", "Trustee": scanners["servicePrincipalObjectId"]}]
    last_right = max(i for i, (n, a) in enumerate(steps) if n == "Test-ExoOAuthRight" and a["App"] == "scanners")
    assert undeclared[1][0] > last_right


def test_undeclared_send_as_is_listed_with_one_call_by_trustee_over_all_recipients() -> None:
    """Get-RecipientPermission -Trustee without -Identity lists every recipient; each is matched by GUID."""
    body = module_function("Test-ExoOAuthUndeclaredRight")
    listing = next(c for c in calls(parse(body)) if c.name == "Get-RecipientPermission")
    assert set(listing.arguments) - {""} == {"Trustee", "AccessRights", "ResultSize", "ErrorAction"}
    assert text(listing.arguments["ResultSize"][0]) == "Unlimited"
    assert '"$Trustee SendAs $guid"' in body


def test_the_full_access_pass_is_off_unless_a_limit_is_given_and_bounded_by_it() -> None:
    """-FullAccessScanLimit defaults to 0 (no pass); with N it reads at most N mailboxes and says when it stopped."""
    script = render_exchange_scripts(inputs_for({"scanners": app_only("scanners")}))["verify"]
    assert "[ValidateRange(0, 2147483647)] [int] $FullAccessScanLimit = 0," in script
    assert script.index("\nSet-ExoOAuthFullAccessScan -Limit $FullAccessScanLimit\nConnect-ExoOAuth @signIn") > 0
    body = module_function("Test-ExoOAuthUndeclaredRight")
    assert body.index("if ($limit -le 0)") < body.index("Get-Mailbox -ResultSize $limit")
    assert "raise -FullAccessScanLimit" in body
    for action in ("apply", "remove"):
        assert "FullAccessScanLimit" not in render_exchange_scripts(
            inputs_for({"scanners": app_only("scanners")}))[action]


def test_declared_rights_are_recorded_whether_or_not_they_are_found() -> None:
    """A missing declared right is drift of its own, never also reported as undeclared."""
    body = module_function("Test-ExoOAuthRight")
    assert body.count("Add-ExoOAuthDeclared -Right $Right -Trustee $Trustee -Box $box") == 2
