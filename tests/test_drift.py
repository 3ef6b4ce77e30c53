"""`exo-oauth drift`: runs what the machine has, says what it could not run, and exits 0, 1, 2 or 4."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from exo_domain.exchange_module import MODULE_NAME
from exo_oauth.cli import main
from standins.mailservers.harness import MailServers
from standins.mailservers.token_server import App
from tests.outputs_factory import deployed_outputs, real_looking
from tests.preview_samples import DUE_STEPS, EXPIRED_DROPPED, SAME_APP, STACK, VALID, slot_replaced, step
from tests.stack_factory import EXCHANGE_SIGN_IN, PROJECT, project_with

FAKE_PULUMI = """#!/bin/sh
# Stands in for the pulumi CLI: `pulumi preview --json` prints the file FAKE_PREVIEW, or fails without one.
echo "$@" > "$FAKE_PULUMI_ARGS"
if [ -n "$FAKE_PREVIEW" ]; then IFS= read -r preview < "$FAKE_PREVIEW"; echo "$preview"; exit 0; fi
echo "error: failed to log in to the backend" >&2; exit 255
"""
PREVIEWS = {
    "clean": [STACK, SAME_APP],
    "rotation": [*DUE_STEPS, *EXPIRED_DROPPED],
    "drift": [*DUE_STEPS, step("update", "azuread:index/application:Application", "scanners-app",
                               diffReasons=["requiredResourceAccesses"])],
    "valid-secret-cut": [STACK, SAME_APP, *slot_replaced("scanners-secret-a", VALID)],
}
FAKE_PWSH = """#!/bin/sh
# Stands in for pwsh running the Exchange verify script: FAKE_PWSH is the script's exit status.
echo "DRIFT    support@contoso.com: FullAccess missing"
exit "$FAKE_PWSH"
"""


def tool(folder: Path, name: str, text: str) -> None:
    """Write an executable stand-in for a command into `folder`."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    """Return a saved outputs file of the contoso stack: two app-only apps, scripts, secrets."""
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(real_looking(deployed_outputs("contoso"))), encoding="utf-8")
    return path


@pytest.fixture
def path_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return a folder that is the only entry on PATH besides the Python interpreter's."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", os.pathsep.join([str(folder), str(Path(sys.executable).parent)]))
    monkeypatch.setenv("FAKE_PULUMI_ARGS", str(tmp_path / "pulumi-args"))
    monkeypatch.setenv("FAKE_PREVIEW", "")
    return folder


def fake_preview(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shape: str) -> None:
    """Have the stand-in pulumi print a preview of the given shape (PREVIEWS) in Pulumi's JSON."""
    path = tmp_path / f"preview-{shape}.json"
    path.write_text(json.dumps({"steps": PREVIEWS[shape], "diagnostics": [], "changeSummary": {}}), encoding="utf-8")
    monkeypatch.setenv("FAKE_PREVIEW", str(path))


def drift(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, str]]:
    """Run `exo-oauth drift --format json`; return the exit status and each check's status."""
    status = main(["drift", "--project-dir", str(PROJECT), "--format", "json", *argv])
    report = json.loads(capsys.readouterr().out)
    assert report["exitStatus"] == status
    return status, {c["check"]: c["status"] for c in report["checks"]}


def test_without_pulumi_or_pwsh_each_check_says_why_and_exit_is_4(
    path_with: Path, outputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With neither tool on PATH, the Entra and Exchange checks report 'not run' and drift exits 4."""
    status, checks = drift(capsys, "--stack", "contoso", "--checks", "entra,exchange", "--outputs", str(outputs))
    assert (status, checks) == (4, {"entra": "not run", "exchange": "not run"})


@pytest.mark.parametrize(("shape", "expected"), [("clean", "clean"), ("rotation", "clean"), ("drift", "drift"),
                                               ("valid-secret-cut", "drift")])
def test_entra_check_calls_only_changes_other_than_due_rotation_drift(
    tmp_path: Path, path_with: Path, outputs: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, shape: str, expected: str,
) -> None:
    """A due rotation (rotation.yml deploys it) is clean with a note; any other change is drift, exit 5."""
    tool(path_with, "pulumi", FAKE_PULUMI)
    fake_preview(tmp_path, monkeypatch, shape)
    status = main(["drift", "--project-dir", str(PROJECT), "--format", "json", "--stack", "contoso", "--checks",
                   "entra", "--outputs", str(outputs)])
    (check,) = json.loads(capsys.readouterr().out)["checks"]
    assert (check["status"], status) == (expected, 5 if expected == "drift" else 0)
    assert ("rotation due; rotation.yml deploys it" in check["detail"]) == (shape == "rotation")
    if expected == "drift":
        assert "ApplicationPassword replace" in check["detail"] or "Application update" in check["detail"]
    # A rotation due behind another change is named, with its end date and blocker, on every daily run.
    blocked = ("app scanners: rotation due but blocked, and the credential devices use now ends 2099-03-01; "
               "blocked by scanners-app (Application update)")
    assert (blocked in check["detail"]) == (shape == "drift")
    assert "--json" in (tmp_path / "pulumi-args").read_text(encoding="utf-8").split()


def test_policy_pack_reaches_pulumi_as_an_absolute_path(
    tmp_path: Path, path_with: Path, outputs: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pulumi CLI runs in the project folder: a relative --policy-pack is resolved from where drift started."""
    tool(path_with, "pulumi", FAKE_PULUMI)
    fake_preview(tmp_path, monkeypatch, "clean")
    (tmp_path / "policy").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["drift", "--project-dir", str(PROJECT), "--stack", "contoso", "--checks", "entra",
                 "--outputs", str(outputs), "--policy-pack", "policy"]) == 0
    argv = (tmp_path / "pulumi-args").read_text(encoding="utf-8").split()
    assert argv[argv.index("--policy-pack") + 1] == str(tmp_path / "policy")


def test_preview_that_cannot_log_in_is_not_drift(
    path_with: Path, outputs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A preview failing for another reason (no backend login) means the check could not run, not drift."""
    tool(path_with, "pulumi", FAKE_PULUMI)
    status, checks = drift(capsys, "--stack", "contoso", "--checks", "entra", "--outputs", str(outputs))
    assert (status, checks) == (4, {"entra": "not run"})


@pytest.mark.parametrize(("script_status", "expected"), [("0", "clean"), ("5", "drift"), ("1", "not run")])
def test_exchange_verify_script_status_maps_to_the_check(
    tmp_path: Path, path_with: Path, outputs: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, script_status: str, expected: str,
) -> None:
    """The Exchange verify script's 0, 5 and other exit statuses mean clean, drift and could not run."""
    project = project_with(tmp_path / "project", *EXCHANGE_SIGN_IN)
    tool(path_with, "pwsh", FAKE_PWSH)
    monkeypatch.setenv("FAKE_PWSH", script_status)
    status = main(["drift", "--project-dir", str(project), "--format", "json", "--stack", "contoso",
                   "--checks", "exchange", "--outputs", str(outputs)])
    checks = {c["check"]: c["status"] for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks == {"exchange": expected}
    assert status == {"clean": 0, "drift": 5, "not run": 4}[expected]


def test_exchange_check_needs_unattended_sign_in(
    path_with: Path, outputs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without exchange.appId the script would prompt, so drift does not start pwsh and says why."""
    tool(path_with, "pwsh", FAKE_PWSH)
    monkeypatch.setenv("FAKE_PWSH", "0")
    assert main(["drift", "--project-dir", str(PROJECT), "--stack", "contoso", "--checks", "exchange",
                 "--outputs", str(outputs)]) == 4
    assert "certificate app-only sign-in" in capsys.readouterr().out


def test_end_to_end_skips_delegated_apps_and_reports_unreachable_login_as_not_run(
    path_with: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Delegated apps are skipped (they need a person); an unreachable login host is 'not run', not drift."""
    contoso, fabrikam = deployed_outputs("contoso"), deployed_outputs("fabrikam")
    saved = tmp_path / "mixed.json"
    saved.write_text(json.dumps(fabrikam | {"apps": fabrikam["apps"] | contoso["apps"],
                                            "clientSecrets": contoso["clientSecrets"]}), encoding="utf-8")
    status = main(["drift", "--project-dir", str(PROJECT), "--format", "json", "--stack", "fabrikam", "--checks", "e2e",
                   "--outputs", str(saved), "--authority-host", "https://127.0.0.1:9"])
    report = json.loads(capsys.readouterr().out)
    assert {c["check"]: c["status"] for c in report["checks"]} == {
        "e2e:mail-clients": "skipped", "e2e:helpdesk": "not run", "e2e:scanners": "not run"}
    assert status == 4
    unreachable = [c["detail"] for c in report["checks"] if c["status"] == "not run"]
    assert all("exo-oauth verify could not check" in d for d in unreachable)
    assert "stand-in-secret-value" not in json.dumps(report)


def test_unknown_check_name_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """--checks accepts only entra, exchange and e2e."""
    assert main(["drift", "--project-dir", str(PROJECT), "--stack", "contoso", "--checks", "entra,dns"]) == 2
    assert "allowed: a non-empty subset of entra,exchange,e2e" in capsys.readouterr().err


def test_end_to_end_check_reports_drift_when_a_real_login_is_refused(
    tmp_path: Path, mail_servers: MailServers, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against the real stand-in servers, a working app is clean and one whose SMTP AUTH is off is drift (exit 1)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    good, broken = mail_servers.app(), mail_servers.app(smtp_auth_enabled=False)
    template = deployed_outputs("contoso")["apps"]["scanners"]

    def deployed(app: App) -> dict[str, Any]:
        return template | {"tenantId": app.tenant_id, "clientId": app.client_id, "protocols": ["imap", "pop", "smtp"],
                           "mailboxes": [{"address": app.mailbox, "sendAs": False}]}

    saved = tmp_path / "outputs.json"
    saved.write_text(json.dumps({"tenantId": good.tenant_id, "exchange": {},
                                 "apps": {"good": deployed(good), "broken": deployed(broken)},
                                 "clientSecrets": {"good": good.secret, "broken": broken.secret}}), encoding="utf-8")
    status = main(["drift", "--project-dir", str(PROJECT), "--format", "json", "--stack", "contoso", "--checks", "e2e",
                   "--outputs", str(saved), *mail_servers.server_args()])
    report = json.loads(capsys.readouterr().out)
    checks = {c["check"]: c for c in report["checks"]}
    assert {name: c["status"] for name, c in checks.items()} == {"e2e:good": "clean", "e2e:broken": "drift"}
    assert checks["e2e:broken"]["detail"].startswith("smtp: ")
    assert status == 5
    assert str(good.secret) not in json.dumps(report)


def test_exchange_sign_in_file_and_password_variable_reach_the_verify_script(
    tmp_path: Path, path_with: Path, outputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a runner the PFX file and the NAME of its password's variable are handed to the script, never the password."""
    project = project_with(tmp_path / "project", *EXCHANGE_SIGN_IN)
    seen = tmp_path / "pwsh-args"
    tool(path_with, "pwsh", f'#!/bin/sh\nprintf "%s\\n" "$@" > "{seen}"\nexit 0\n')
    pfx = tmp_path / "exo.pfx"
    pfx.write_bytes(b"stand-in")
    status = main(["drift", "--project-dir", str(project), "--stack", "contoso", "--checks", "exchange",
                   "--outputs", str(outputs), "--exchange-certificate-file", str(pfx),
                   "--exchange-password-variable", "EXO_CERTIFICATE_PASSWORD"])
    assert status == 0
    assert seen.read_text(encoding="utf-8").splitlines()[-4:] == [
        "-CertificateFilePath", str(pfx.resolve()), "-CertificatePasswordVariable", "EXO_CERTIFICATE_PASSWORD"]


def test_drift_runs_this_versions_verify_script_beside_the_module_it_checks(
    tmp_path: Path, path_with: Path, outputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The verify script is rendered from the outputs, and runs with the ExoOAuth.psm1 whose hash it checks beside it.

    The text saved in the `exchange` output (rendered by the deploy's exo-oauth) is not what runs.
    """
    project = project_with(tmp_path / "project", *EXCHANGE_SIGN_IN)
    seen = tmp_path / "seen"
    # Stands in for pwsh -NoLogo -NoProfile -NonInteractive -File SCRIPT: keeps SCRIPT and the module beside it.
    copy = shutil.which("cp", path=os.defpath)  # PATH holds only the stand-ins here
    tool(path_with, "pwsh", f'#!/bin/sh\n[ "$4" = -File ] || exit 1\n{copy} "$5" "{seen}.ps1"\n'
         f'{copy} "${{5%/*}}/{MODULE_NAME}" "{seen}.psm1"\n')
    saved = json.loads(outputs.read_text(encoding="utf-8"))
    saved["exchange"]["verify"] = "# an old verify script\n"
    outputs.write_text(json.dumps(saved), encoding="utf-8")
    pfx = tmp_path / "exo.pfx"
    pfx.write_bytes(b"stand-in")
    assert main(["drift", "--project-dir", str(project), "--stack", "contoso", "--checks", "exchange",
                 "--outputs", str(outputs), "--exchange-certificate-file", str(pfx)]) == 0
    script = Path(f"{seen}.ps1").read_text(encoding="utf-8")
    assert script.endswith("if (Complete-ExoOAuthVerify) { exit 5 }\n")
    digest = hashlib.sha256(Path(f"{seen}.psm1").read_bytes()).hexdigest().upper()
    assert f".Hash -ne '{digest}'" in script


def test_outputs_the_verify_script_cannot_be_rendered_from_cost_only_the_exchange_check(
    tmp_path: Path, path_with: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outputs holding the offline plan's stand-in IDs: the exchange check is not run, and drift still reports."""
    project = project_with(tmp_path / "project", *EXCHANGE_SIGN_IN)
    tool(path_with, "pwsh", FAKE_PWSH)
    saved = tmp_path / "standins.json"
    saved.write_text(json.dumps(deployed_outputs("contoso")), encoding="utf-8")
    assert main(["drift", "--project-dir", str(project), "--format", "json", "--stack", "contoso",
                 "--checks", "exchange", "--outputs", str(saved)]) == 4
    [check] = json.loads(capsys.readouterr().out)["checks"]
    assert check["status"] == "not run"
    assert check["detail"].startswith("the verify script could not be rendered: --outputs ")


def test_exchange_password_variable_without_a_file_is_a_usage_error(
    outputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A password variable alone names nothing to open: exit 2, one line."""
    assert main(["drift", "--project-dir", str(PROJECT), "--stack", "contoso", "--checks", "exchange", "--outputs",
                 str(outputs), "--exchange-password-variable", "X"]) == 2
    assert "only with --exchange-certificate-file" in capsys.readouterr().err


COUNTING_PULUMI = """#!{python}
# Stands in for the pulumi CLI's `stack output`: prints OUTPUTS_FILE (secrets shown only with --show-secrets) and
# logs each call, one line per call, to PULUMI_CALLS.
import json, os, sys
with open(os.environ["PULUMI_CALLS"], "a", encoding="utf-8") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
outputs = json.load(open(os.environ["OUTPUTS_FILE"], encoding="utf-8"))
if "--show-secrets" not in sys.argv:
    outputs["clientSecrets"] = {{name: "[secret]" for name in outputs.get("clientSecrets", {{}})}}
print(json.dumps(outputs))
"""


def test_the_stack_outputs_are_read_once_per_run_for_every_app_only_app(
    path_with: Path, tmp_path: Path, outputs: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drift asks pulumi for the outputs once, secrets included, and each app's verify reuses them.

    The contoso outputs have two app-only secret apps; verify reaches no login host here (not run), which is enough:
    it got past reading the outputs and the secret.
    """
    tool(path_with, "pulumi", COUNTING_PULUMI.format(python=sys.executable))
    calls = tmp_path / "calls"
    monkeypatch.setenv("PULUMI_CALLS", str(calls))
    monkeypatch.setenv("OUTPUTS_FILE", str(outputs))
    status, checks = drift(capsys, "--stack", "contoso", "--checks", "e2e", "--authority-host", "https://127.0.0.1:9")
    app_only = [name for name in checks if name.startswith("e2e:")]
    assert len(app_only) >= 2
    assert set(checks.values()) == {"not run"}, checks
    assert calls.read_text(encoding="utf-8").splitlines() == [
        "stack output --json --stack contoso --non-interactive --show-secrets"]
    assert status == 4


def test_the_opt_in_full_access_scan_reaches_the_verify_script_as_its_limit(
    tmp_path: Path, path_with: Path, outputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--exchange-full-access-scan N becomes -FullAccessScanLimit N; 0 is refused (leave the flag out instead)."""
    project = project_with(tmp_path / "project", *EXCHANGE_SIGN_IN)
    seen = tmp_path / "pwsh-args"
    tool(path_with, "pwsh", f'#!/bin/sh\nprintf "%s\\n" "$@" > "{seen}"\nexit 0\n')
    argv = ["drift", "--project-dir", str(project), "--stack", "contoso", "--checks", "exchange", "--outputs",
            str(outputs)]
    assert main([*argv, "--exchange-full-access-scan", "10000"]) == 0
    assert seen.read_text(encoding="utf-8").splitlines()[-2:] == ["-FullAccessScanLimit", "10000"]
    assert main([*argv, "--exchange-full-access-scan", "0"]) == 2
    assert "allowed: a number of mailboxes, 1 or more" in capsys.readouterr().err
