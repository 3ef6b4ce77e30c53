"""drift-report (the issue text), exchange-sign-in (the Exchange action's first check) and federated verify refusals."""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12

from exo_domain.exit_codes import MEANINGS, ExitCode, exit_help
from exo_oauth.cli import main
from exo_oauth.util.errors import UsageError
from exo_oauth.verify.federated import GITHUB_ISSUER, REQUEST_TOKEN, REQUEST_URL, github_credential
from tests.certificates import PFX_PASSWORD, pfx
from tests.stack_factory import EXCHANGE_SIGN_IN, SCANNERS_SECRET, federated_credential, project_with

HOSTILE = "ops@contoso.com of @acme/security-team ![p](https://t.example/p.png) <img src=x>"


def report(tmp_path: Path, status: int, checks: list[dict[str, str]], stack: str = "contoso") -> Path:
    """Write a drift JSON report and return its path."""
    path = tmp_path / "drift.json"
    path.write_text(json.dumps({"stack": stack, "exitStatus": status, "checks": checks}), encoding="utf-8")
    return path


def decide(tmp_path: Path, capsys: pytest.CaptureFixture[str], path: Path, open_issues: list[dict[str, Any]],
           *extra: str) -> tuple[int, dict[str, Any]]:
    """Run drift-report with the open issues; return its exit status and the decision it printed."""
    issues = tmp_path / "issues.json"
    issues.write_text(json.dumps(open_issues), encoding="utf-8")
    status = main(["drift-report", "--report", str(path), "--issues", str(issues), *extra])
    return status, json.loads(capsys.readouterr().out)


OTHER_ISSUE = {"number": 3, "title": "Drift: stack contoso-eu"}


@pytest.mark.parametrize(("status", "open_issues", "action", "issue"), [
    (ExitCode.OK, [OTHER_ISSUE], "none", None),
    (ExitCode.OK, [OTHER_ISSUE, {"number": 7, "title": "Drift: stack contoso"}], "close", 7),
    (ExitCode.DRIFT, [OTHER_ISSUE], "create", None),
    (ExitCode.DRIFT, [{"number": 7, "title": "Drift: stack contoso"}], "comment", 7),
    (ExitCode.NOT_RUN, [], "create", None),
])
def test_drift_report_decides_what_to_do_with_the_stacks_issue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], status: ExitCode, open_issues: list[dict[str, Any]],
    action: str, issue: int | None,
) -> None:
    """Clean closes the stack's open issue (if any); drift or a check that could not run opens or comments on it."""
    path = report(tmp_path, status, [{"check": "entra", "status": "clean", "detail": "no change"}])
    exit_status, decision = decide(tmp_path, capsys, path, open_issues)
    assert (exit_status, decision["action"], decision["issue"]) == (status, action, issue)
    assert decision["title"] == "Drift: stack contoso"


@pytest.mark.parametrize(("first", "second", "merged"), [
    (ExitCode.OK, ExitCode.OK, ExitCode.OK),
    (ExitCode.OK, ExitCode.DRIFT, ExitCode.DRIFT),
    (ExitCode.NOT_RUN, ExitCode.OK, ExitCode.NOT_RUN),
    (ExitCode.NOT_RUN, ExitCode.DRIFT, ExitCode.DRIFT),
])
def test_two_reports_of_a_stack_are_one_issue_with_every_check_and_the_worst_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], first: ExitCode, second: ExitCode, merged: ExitCode,
) -> None:
    """--report twice (the other checks, then the exchange check read from a runner): one table, drift wins."""
    entra = report(tmp_path, first, [{"check": "entra", "status": "clean", "detail": "no change"}])
    exchange = tmp_path / "exchange.json"
    exchange.write_text(json.dumps({"stack": "contoso", "exitStatus": second, "checks": [
        {"check": "exchange", "status": "drift", "detail": "SendAs missing"}]}), encoding="utf-8")
    status, decision = decide(tmp_path, capsys, entra, [], "--report", str(exchange))
    assert status == merged
    assert decision["body"].index("| entra |") < decision["body"].index("| exchange | drift | SendAs missing |")


def test_reports_of_two_stacks_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each issue is one stack's: reports of another stack are bad input, one line, exit 2."""
    contoso = report(tmp_path, ExitCode.OK, [])
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"stack": "fabrikam", "exitStatus": 0, "checks": []}), encoding="utf-8")
    issues = tmp_path / "issues.json"
    issues.write_text("[]", encoding="utf-8")
    assert main(["drift-report", "--report", str(contoso), "--report", str(other), "--issues", str(issues)]) == 2
    assert "--report: reports of stacks contoso, fabrikam; allowed: reports of one stack" in capsys.readouterr().err


def test_clean_report_exits_0_and_says_no_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A clean stack: exit 0, the text links the run."""
    path = report(tmp_path, 0, [{"check": "entra", "status": "clean", "detail": "no change"}])
    _, decision = decide(tmp_path, capsys, path, [], "--run-url", "https://github.com/o/r/actions/runs/1")
    assert "No drift on stack contoso in [this run](https://github.com/o/r/actions/runs/1)." in decision["body"]


def test_drift_report_exits_with_the_reports_drift_status_a_table_and_how_to_restore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Drift: the report's own status, a row per check (a `|` in a detail kept inside its cell), the deploy advice."""
    path = report(tmp_path, ExitCode.DRIFT, [{"check": "entra", "status": "drift", "detail": "a | b"},
                                {"check": "e2e:helpdesk", "status": "skipped", "detail": "delegated"}])
    status, decision = decide(tmp_path, capsys, path, [])
    assert status == ExitCode.DRIFT
    assert "| entra | drift | a \\| b |" in decision["body"]
    assert "| e2e:helpdesk | skipped | delegated |" in decision["body"]
    assert "declared state of stack contoso" in decision["body"]


def test_hostile_details_and_stack_render_as_text_in_the_issue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A detail or stack name from a tool's output cannot mention a team, load an image or inject HTML."""
    path = report(tmp_path, ExitCode.DRIFT, [{"check": "exchange", "status": "drift", "detail": HOSTILE}],
                  stack=HOSTILE)
    body = decide(tmp_path, capsys, path, [])[1]["body"]
    assert "<img" not in body
    assert "![p](" not in body
    assert "@acme" not in body
    assert "https://t.example" not in body
    assert body.count("&lt;img src=x&gt;") == 3


def test_open_issues_that_are_not_gh_output_are_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An issues file of another shape: exit 2, one line, nothing on stdout."""
    path = report(tmp_path, 0, [])
    issues = tmp_path / "issues.json"
    issues.write_text(json.dumps({"number": 1}), encoding="utf-8")
    assert main(["drift-report", "--report", str(path), "--issues", str(issues)]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err.count("\n")) == ("", 1)
    assert "--issues" in captured.err


def test_empty_report_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Drift itself failed (an empty file): exit 2, one line, no issue text."""
    path = tmp_path / "drift.json"
    path.write_text("", encoding="utf-8")
    assert main(["drift-report", "--report", str(path), "--issues", str(path)]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err.count("\n")) == ("", 1)


@pytest.mark.parametrize(("command", "codes"), [
    ("drift-report", (ExitCode.OK, ExitCode.USAGE, ExitCode.NOT_RUN, ExitCode.DRIFT)),
    ("exchange-sign-in", (ExitCode.OK, ExitCode.USAGE)),
])
def test_help_and_exit_code_table_name_the_statuses_the_command_returns(
    capsys: pytest.CaptureFixture[str], command: str, codes: tuple[ExitCode, ...]
) -> None:
    """The help ends with the shared exit-status sentence; docs/exit-codes.md names the command for each code."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert exit_help(*codes) in " ".join(capsys.readouterr().out.split())
    for code in codes:
        assert code == ExitCode.USAGE or f"`{command}`" in MEANINGS[code][1] or MEANINGS[code][1] == (
            "every command; the Exchange scripts")


@pytest.fixture
def exchange_project(tmp_path: Path) -> Path:
    """Return a project whose contoso stack sets exchange.appId for certificate sign-in."""
    return project_with(tmp_path, *EXCHANGE_SIGN_IN)


def sign_in(project: Path, monkeypatch: pytest.MonkeyPatch, data: str, password: str) -> int:
    """Run exchange-sign-in with the PFX and password in the environment."""
    monkeypatch.setenv("PFX", data)
    monkeypatch.setenv("PFX_PASSWORD", password)
    return main(["exchange-sign-in", "--project-dir", str(project), "--stack", "contoso", "--pfx-env", "PFX",
                 "--password-env", "PFX_PASSWORD"])


def test_sign_in_ready_with_app_id_and_a_pfx_that_opens(
    exchange_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With appId and a PFX that opens with its password and has the stack's thumbprint: exit 0, one line."""
    data = pfx()
    _, certificate, _ = pkcs12.load_key_and_certificates(base64.b64decode(data), PFX_PASSWORD.encode())
    assert certificate is not None
    path = exchange_project / "stacks" / "Pulumi.contoso.yaml"
    thumbprint = certificate.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - Windows' thumbprint
    path.write_text(path.read_text(encoding="utf-8").replace("0123456789ABCDEF0123456789ABCDEF01234567", thumbprint),
                    encoding="utf-8")
    assert sign_in(exchange_project, monkeypatch, data, PFX_PASSWORD) == 0
    out = capsys.readouterr().out
    assert out.startswith("contoso: Exchange sign-in as app 11111111-2222-4333-8444-555555555555 to contoso")
    assert PFX_PASSWORD not in out


def test_certificate_alone_is_checked_without_a_stack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --stack only the PFX and its password are checked: the action's first step, before any install."""
    monkeypatch.setenv("PFX", pfx())
    monkeypatch.setenv("PFX_PASSWORD", PFX_PASSWORD)
    assert main(["exchange-sign-in", "--pfx-env", "PFX", "--password-env", "PFX_PASSWORD"]) == 0
    assert capsys.readouterr().out.startswith("Exchange sign-in: the PFX opens with its password")
    monkeypatch.setenv("PFX_PASSWORD", "wrong")
    assert main(["exchange-sign-in", "--pfx-env", "PFX", "--password-env", "PFX_PASSWORD"]) == 2


@pytest.mark.parametrize(("data", "password", "message"), [
    ("", PFX_PASSWORD, "--pfx-env: the variable it names is empty or not set"),
    ("not base64!", PFX_PASSWORD, "not base64"),
    (None, "wrong", "not a PFX that opens"),
    (None, "", "--password-env: the variable it names is empty or not set"),
    (None, PFX_PASSWORD, "names 0123456789ABCDEF0123456789ABCDEF01234567 in exo-oauth:exchange.certificateThumbprint"),
])
def test_sign_in_refuses_a_missing_or_wrong_certificate_in_one_line(
    exchange_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    data: str | None, password: str, message: str,
) -> None:
    """Each missing or wrong input stops the action with exit 2 and one line that names it, never the password."""
    assert sign_in(exchange_project, monkeypatch, pfx() if data is None else data, password) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert PFX_PASSWORD not in err


def federated_project(tmp_path: Path, issuer: str) -> argparse.Namespace:
    """Return verify's arguments for a stack with one app-only app whose credential is federated with `issuer`."""
    project_with(tmp_path, SCANNERS_SECRET, federated_credential(issuer, "repo:contoso/mail:environment:drift"))
    return argparse.Namespace(project_dir=tmp_path, stack="contoso")


def test_federated_app_with_another_issuer_is_refused_in_one_line(tmp_path: Path) -> None:
    """Only GitHub's OIDC token can be presented: another issuer is named, with what to do instead."""
    args = federated_project(tmp_path, "https://sts.windows.net/3f2a6c1e-8d4b-4f7a-9c2e-5b1d0e7f6a48/")
    with pytest.raises(UsageError, match=r"issuer is 'https://sts.windows.net/.*verify can present only GitHub"):
        github_credential(args.project_dir, args.stack, "scanners", {REQUEST_URL: "https://x", REQUEST_TOKEN: "t"})


def test_federated_github_app_outside_an_oidc_job_is_refused(tmp_path: Path) -> None:
    """A GitHub federated credential without the job's token request variables: one line naming them."""
    args = federated_project(tmp_path, GITHUB_ISSUER)
    with pytest.raises(UsageError, match=f"{REQUEST_URL} and {REQUEST_TOKEN} are not set"):
        github_credential(args.project_dir, args.stack, "scanners", {})
