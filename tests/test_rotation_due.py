"""`exo-oauth rotation-due`: only a preview whose sole changes are credential rotation lets the schedule deploy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from exo_oauth.cli import main
from tests.preview_samples import (
    CERTIFICATE_DUE,
    DUE_STEPS,
    EXPIRED_DROPPED,
    PASSWORD,
    ROTATING,
    SAME_APP,
    SLOT_REUSED,
    STACK,
    VALID,
    slot_replaced,
    step,
)


def preview(tmp_path: Path, steps: list[dict[str, Any]], **extra: Any) -> Path:
    """Write a preview document in Pulumi's JSON shape and return its path."""
    summary: dict[str, int] = {}
    for s in steps:
        summary[s["op"]] = summary.get(s["op"], 0) + 1
    path = tmp_path / "preview.json"
    path.write_text(json.dumps({"config": {}, "steps": steps, "diagnostics": [], "duration": 1_000_000,
                                "changeSummary": summary, **extra}), encoding="utf-8")
    return path


def due(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: list[dict[str, Any]], **extra: Any
) -> tuple[str, str]:
    """Run rotation-due on the steps; return the verdict it printed on stdout (or `exit N`) and its stderr."""
    status = main(["rotation-due", "--stack", "contoso", "--preview-json", str(preview(tmp_path, steps, **extra))])
    captured = capsys.readouterr()
    return (captured.out.strip() if status == 0 else f"exit {status}"), captured.err


def test_only_rotation_pending_is_due(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The next period's secret in its free slot, and nothing else: exit 0, naming it."""
    verdict, why = due(tmp_path, capsys, DUE_STEPS)
    assert verdict == "due"
    assert "contoso: rotation due" in why
    assert "scanners-secret-b (ApplicationPassword create)" in why


@pytest.mark.parametrize("steps", [SLOT_REUSED, EXPIRED_DROPPED, CERTIFICATE_DUE, [*DUE_STEPS, *EXPIRED_DROPPED]],
                         ids=["slot-reused", "expired-dropped", "certificate", "new-and-expired"])
def test_every_shape_of_the_schedule_is_due(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: list[dict[str, Any]]
) -> None:
    """A replaced slot, an expired secret dropped, a certificate registered again: each is rotation alone."""
    assert due(tmp_path, capsys, [STACK, SAME_APP, *steps])[0] == "due"


def test_nothing_pending_is_not_due(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Only `same` steps: nothing to deploy."""
    assert due(tmp_path, capsys, [STACK, SAME_APP])[0] == "none"


@pytest.mark.parametrize("extra_step", [
    step("update", "azuread:index/application:Application", "scanners-app", diffReasons=["displayName"]),
    step("create", "azuread:index/appRoleAssignment:AppRoleAssignment", "scanners-role-imap"),
    step("replace", PASSWORD, "helpdesk-secret", diffReasons=["endDate"]),
    step("delete", ROTATING, "old-rotation"),
    step("update", PASSWORD, "helpdesk-secret-a", diffReasons=["applicationId"]),
])
def test_another_change_beside_rotation_is_left_for_review(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra_step: dict[str, Any]
) -> None:
    """An app, permission, an unrelated credential or a removed clock next to a due rotation: left for review."""
    verdict, why = due(tmp_path, capsys, [*DUE_STEPS, extra_step])
    assert verdict == "blocked"
    assert "reviewed deploy" in why
    assert "app scanners: rotation due but blocked, and the credential devices use now ends 2099-03-01" in why
    assert f"blocked by {extra_step['urn'].rsplit('::', 1)[-1]} (" in why


@pytest.mark.parametrize("steps", [
    slot_replaced("scanners-secret-a", VALID),
    [step("delete", PASSWORD, "scanners-secret-a", VALID)],
    [step("delete", PASSWORD, "scanners-secret-a")],
], ids=["replaced-while-valid", "dropped-while-valid", "dropped-without-end-date"])
def test_a_slot_whose_secret_is_still_valid_is_not_rotation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: list[dict[str, Any]]
) -> None:
    """Replacing or dropping a secret that has not ended (or whose end is unknown) would cut it: left for review."""
    verdict, why = due(tmp_path, capsys, [STACK, SAME_APP, *steps])
    assert verdict == "other"
    assert "scanners-secret-a (ApplicationPassword" in why


def test_both_slots_replaced_at_once_is_left_for_review(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A merged lifetimeDays or rotateBeforeDays change replaces both slots: never the schedule, even if both ended."""
    steps = [*slot_replaced("scanners-secret-a", "2024-03-01T00:00:00Z"),
             *slot_replaced("scanners-secret-b", "2024-04-01T00:00:00Z")]
    assert due(tmp_path, capsys, [STACK, SAME_APP, *steps])[0] == "other"


def test_a_credential_change_that_is_not_its_end_date_is_not_rotation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A certificate whose value changes with the clock is a new certificate to review: the due clock waits for it."""
    steps = [step("create", ROTATING, "frontdesk-rotation"),
             step("replace", "azuread:index/applicationCertificate:ApplicationCertificate", "frontdesk-cert",
                  diffReasons=["value", "endDate"])]
    verdict, why = due(tmp_path, capsys, steps)
    assert verdict == "blocked"
    assert "blocked by frontdesk-cert (ApplicationCertificate replace)" in why


def test_a_failed_preview_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An error diagnostic means no verdict: exit 2 with the preview's message."""
    verdict, why = due(tmp_path, capsys, [], diagnostics=[{"severity": "error", "message": "error: login failed\n"}])
    assert verdict == "exit 2"
    assert "the preview failed: error: login failed" in why


def test_not_json_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is not JSON (a preview that printed text) names the file: exit 2."""
    path = tmp_path / "preview.json"
    path.write_text("Previewing update (contoso)\n", encoding="utf-8")
    assert main(["rotation-due", "--preview-json", str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def issue_decision(tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: list[dict[str, Any]],
                   open_issues: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """Run rotation-due with --issues and --issue-out; return the verdict and the issue decision it wrote."""
    issues, out = tmp_path / "issues.json", tmp_path / "decision.json"
    issues.write_text(json.dumps(open_issues), encoding="utf-8")
    assert main(["rotation-due", "--stack", "contoso", "--preview-json", str(preview(tmp_path, steps)),
                 "--issues", str(issues), "--issue-out", str(out), "--run-url", "https://ci.example/run/1"]) == 0
    return capsys.readouterr().out.strip(), json.loads(out.read_text(encoding="utf-8"))


BLOCKER = step("update", "azuread:index/application:Application", "scanners-app", diffReasons=["displayName"])


@pytest.mark.parametrize(("open_issues", "action", "number"), [
    ([], "create", None),
    ([{"number": 7, "title": "Rotation blocked: stack contoso"}, {"number": 8, "title": "Rotation blocked: stack x"}],
     "comment", 7),
])
def test_a_blocked_rotation_opens_or_updates_the_stacks_issue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], open_issues: list[dict[str, Any]], action: str,
    number: int | None,
) -> None:
    """Blocked: one issue per stack, created or commented on, naming the app, the end date and the blocker."""
    verdict, decision = issue_decision(tmp_path, capsys, [*DUE_STEPS, BLOCKER], open_issues)
    assert verdict == "blocked"
    assert (decision["action"], decision["issue"], decision["title"]) == (action, number,
                                                                          "Rotation blocked: stack contoso")
    assert "app scanners: rotation due but blocked" in decision["body"]
    assert "ends 2099-03-01" in decision["body"]
    assert "blocked by scanners-app (Application update)" in decision["body"]


@pytest.mark.parametrize(("steps", "open_issues", "action"), [
    (DUE_STEPS, [{"number": 7, "title": "Rotation blocked: stack contoso"}], "close"),
    ([STACK, SAME_APP], [], "none"),
    ([*DUE_STEPS[:-1], BLOCKER], [], "none"),
], ids=["unblocked-closes", "nothing-pending", "other-change-without-rotation"])
def test_an_unblocked_stack_closes_its_issue_or_leaves_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: list[dict[str, Any]],
    open_issues: list[dict[str, Any]], action: str,
) -> None:
    """Once the rotation can run (or none is due), the open issue is closed; without one, nothing happens."""
    verdict, decision = issue_decision(tmp_path, capsys, steps, open_issues)
    assert verdict != "blocked"
    assert decision["action"] == action


def test_issue_out_without_its_inputs_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--issue-out needs --stack and --issues: exit 2, one line, nothing written."""
    out = tmp_path / "decision.json"
    assert main(["rotation-due", "--preview-json", str(preview(tmp_path, DUE_STEPS)),
                 "--issue-out", str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not out.exists()
