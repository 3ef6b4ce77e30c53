"""One-line messages: a wrong flag names the subcommand; a missing pulumi CLI says which outputs file to save."""

from __future__ import annotations

import pytest

from exo_oauth.cli import main
from tests.stack_factory import REPO


@pytest.mark.parametrize("argv", [["plan", "--stack", "contoso", "--bogus"], ["plan", "--all", "--format", "xml"],
                                  ["drift"], ["stacks", "--all", "extra"]])
def test_a_wrong_command_line_is_one_line_for_the_subcommand(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 with one line that starts with the subcommand and points at its --help, not the top-level usage."""
    try:
        status: object = main(argv)
    except SystemExit as stopped:  # argparse's way out for errors it finds itself
        status = stopped.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"exo-oauth {argv[0]}: ")
    assert f"`exo-oauth {argv[0]} --help`" in err
    assert "usage:" not in err


def test_verify_without_pulumi_says_to_save_the_outputs_with_show_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The verify command reads the client secret from the outputs, so the advice includes --show-secrets."""
    monkeypatch.setenv("PATH", "")
    assert main(["verify", "--stack", "contoso", "--app", "scanners", "--project-dir", str(REPO)]) == 2
    err = capsys.readouterr().err
    assert "`pulumi stack output --json --show-secrets --stack contoso > FILE`" in err
    assert "keep it private" in err


def test_drift_without_pulumi_asks_for_no_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The drift command's own read needs no secret, so its advice leaves --show-secrets out."""
    monkeypatch.setenv("PATH", "")
    main(["drift", "--stack", "contoso", "--checks", "entra", "--project-dir", str(REPO)])
    err = capsys.readouterr().err
    assert "`pulumi stack output --json --stack contoso > FILE`" in err
