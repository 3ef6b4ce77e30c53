"""drift-report (the issue text), exchange-sign-in (the Exchange action's first check) and federated verify refusals."""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12

from components.exit_codes import ExitCode
from exo_oauth.cli import main
from exo_oauth.errors import UsageError
from exo_oauth.verify.federated import GITHUB_ISSUER, REQUEST_TOKEN, REQUEST_URL, github_credential
from tests.certificates import PFX_PASSWORD, pfx
from tests.stack_factory import EXCHANGE_SIGN_IN, SCANNERS_SECRET, federated_credential, project_with


def report(tmp_path: Path, status: int, checks: list[dict[str, str]]) -> Path:
    """Write a drift JSON report and return its path."""
    path = tmp_path / "drift.json"
    path.write_text(json.dumps({"stack": "contoso", "exitStatus": status, "checks": checks}), encoding="utf-8")
    return path


def test_clean_report_exits_0_and_says_no_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A clean stack: exit 0 (the workflow closes the issue), the text links the run."""
    path = report(tmp_path, 0, [{"check": "entra", "status": "clean", "detail": "no change"}])
    assert main(["drift-report", "--report", str(path), "--run-url", "https://github.com/o/r/actions/runs/1"]) == 0
    out = capsys.readouterr().out
    assert "No drift on stack `contoso` in [this run](https://github.com/o/r/actions/runs/1)." in out


def test_drift_report_exits_1_with_a_table_and_how_to_restore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Drift: the report's own status, a row per check (a `|` in a detail kept inside its cell), the deploy advice."""
    path = report(tmp_path, ExitCode.DRIFT, [{"check": "entra", "status": "drift", "detail": "a | b"},
                                {"check": "e2e:helpdesk", "status": "skipped", "detail": "delegated"}])
    assert main(["drift-report", "--report", str(path)]) == ExitCode.DRIFT
    out = capsys.readouterr().out
    assert "| entra | drift | a \\| b |" in out
    assert "| e2e:helpdesk | skipped | delegated |" in out
    assert "stacks `contoso`" in out


def test_empty_report_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Drift itself failed (an empty file): exit 2, one line, no issue text."""
    path = tmp_path / "drift.json"
    path.write_text("", encoding="utf-8")
    assert main(["drift-report", "--report", str(path)]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err.count("\n")) == ("", 1)


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
    ("", PFX_PASSWORD, "--pfx-env PFX: empty or not set"),
    ("not base64!", PFX_PASSWORD, "not base64"),
    (None, "wrong", "not a PFX that opens"),
    (None, "", "--password-env PFX_PASSWORD: empty or not set"),
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
