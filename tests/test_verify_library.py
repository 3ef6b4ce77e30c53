"""verify as a library: the command and drift run the same typed request in-process."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from exo_oauth.cli import build_parser, main
from exo_oauth.commands.verify import request_from
from exo_oauth.fleet.project import load_stack
from exo_oauth.plan.offline import plan_stack
from exo_oauth.verify.request import VerifyRequest
from tests.stack_factory import PROJECT, REPO

UNREACHABLE_LOGIN = "https://127.0.0.1:9"


def test_every_verify_flag_is_a_request_field_and_back() -> None:
    """The command's flags (besides output options) map one to one onto VerifyRequest, with the same defaults."""
    parsed = build_parser().parse_args(["verify", "--tenant", "contoso.com", "--client-id", "x"])
    assert request_from(parsed) == VerifyRequest(tenant="contoso.com", client_id="x")


def saved_outputs(tmp_path: Path) -> Path:
    """Save contoso's planned outputs with stand-in secrets, as `pulumi stack output --json --show-secrets` would."""
    outputs: dict[str, Any] = plan_stack(REPO, load_stack(PROJECT, "contoso"), datetime.now(UTC)).outputs
    outputs["clientSecrets"] = {name: "stand-in-secret-value" for name, app in outputs["apps"].items()
                                if app["credential"]["type"] == "secret"}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs), encoding="utf-8")
    return path


def test_drift_runs_verify_in_process_without_starting_any_program(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The e2e check calls verify in this process: no subprocess, and the cloud override reaches the request."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def no_process(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"drift started a process: {args[0]}")

    monkeypatch.setattr(subprocess, "run", no_process)
    status = main(["drift", "--project-dir", str(PROJECT), "--format", "json", "--stack", "contoso", "--checks", "e2e",
                   "--outputs", str(saved_outputs(tmp_path)), "--authority-host", UNREACHABLE_LOGIN])
    report = json.loads(capsys.readouterr().out)
    assert status == 4
    assert [c["status"] for c in report["checks"]] == ["not run", "not run"]
    assert all(f"Could not reach the login host {UNREACHABLE_LOGIN}/" in c["detail"] for c in report["checks"])
