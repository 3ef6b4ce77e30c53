"""One-line messages: a wrong flag names the subcommand; a missing pulumi CLI says which outputs file to save."""

from __future__ import annotations

import tomllib
from importlib.metadata import version

import pytest

from exo_oauth.cli import main
from tests.stack_factory import PROJECT, REPO


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI on a command line argparse refuses; return stderr after checking exit 2 and one line."""
    try:
        status: object = main(argv)
    except SystemExit as stopped:  # argparse's way out for errors it finds itself
        status = stopped.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "usage:" not in err
    return err


@pytest.mark.parametrize("argv", [["plan", "--stack", "contoso", "--bogus"], ["plan", "--all", "--jobs", "many"],
                                  ["drift"], ["stacks", "--all", "extra"]])
def test_a_wrong_command_line_is_one_line_for_the_subcommand(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 with one line that starts with the subcommand and points at its --help, not the top-level usage."""
    err = refused(argv, capsys)
    assert err.startswith(f"exo-oauth {argv[0]}: ")
    assert f"`exo-oauth {argv[0]} --help`" in err


@pytest.mark.parametrize(("argv", "line"), [
    (["plan", "--all", "--fromat", "json"], "exo-oauth plan: unknown option --fromat, did you mean --format?; "
     "1 unexpected value(s), not repeated; allowed: the options of `exo-oauth plan --help`\n"),
    (["verify", "--secret-evn=X"], "exo-oauth verify: unknown option --secret-evn, did you mean --secret-env?; "
     "allowed: the options of `exo-oauth verify --help`\n"),
    (["plan", "--all", "--format", "jsno"], "exo-oauth plan: argument --format: invalid choice (not repeated), did "
     "you mean json?; allowed: text, markdown, json\n"),
    (["verfy"], "exo-oauth: argument COMMAND: invalid choice (not repeated), did you mean verify?; allowed: plan, "
     "diff, exchange, verify, drift, stacks, audit, adopt, rotation-due, exchange-sign-in, drift-report, "
     "review-comment\n"),
    ([], "exo-oauth: the following arguments are required: COMMAND; allowed: the options of `exo-oauth --help`\n"),
], ids=["subcommand-option", "option-with-value", "choice", "command", "no-command"])
def test_a_mistyped_word_gets_the_nearest_known_one_in_the_same_format_at_every_level(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Top-level and subcommand mistakes share one format: `PROG: problem; allowed: ...`, with a suggestion."""
    assert refused(argv, capsys) == line


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    """`exo-oauth --version` prints the version of the package metadata, whose home is pyproject.toml."""
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert capsys.readouterr().out == f"exo-oauth {version('exo-oauth')}\n"
    assert version("exo-oauth") == pyproject["project"]["version"]


def test_verify_without_pulumi_says_to_save_the_outputs_with_show_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The verify command reads the client secret from the outputs, so the advice includes --show-secrets."""
    monkeypatch.setenv("PATH", "")
    assert main(["verify", "--stack", "contoso", "--app", "scanners", "--project-dir", str(PROJECT)]) == 2
    err = capsys.readouterr().err
    assert "`pulumi stack output --json --show-secrets --stack contoso > FILE`" in err
    assert "keep it private" in err


def test_drift_reads_no_outputs_for_checks_that_need_none(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The entra check previews, and it needs no stack outputs: nothing asks pulumi for them."""
    monkeypatch.setenv("PATH", "")
    main(["drift", "--stack", "contoso", "--checks", "entra", "--project-dir", str(PROJECT)])
    assert "pulumi stack output" not in capsys.readouterr().err


def test_drift_without_pulumi_asks_for_no_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The drift command's own read needs no secret, so its advice leaves --show-secrets out."""
    monkeypatch.setenv("PATH", "")
    main(["drift", "--stack", "contoso", "--checks", "exchange", "--project-dir", str(PROJECT)])
    err = capsys.readouterr().err
    assert "`pulumi stack output --json --stack contoso > FILE`" in err
