"""A value given where a name or identifier belongs is never printed back: it may be the secret itself."""

from __future__ import annotations

import pytest

from exo_oauth.cli import main

TENANT = "11111111-2222-4333-8444-555555555555"
CLIENT = "22222222-3333-4444-8555-666666666666"
SECRET = "Abc8Q~s3cr3t.value-for_tests"
PASSPHRASE_LIKE = "CorrectHorseBatteryStaple"
"""A secret that is also a valid variable name: even then the argument is not repeated."""


@pytest.mark.parametrize("flag", ["--secret-env", "--certificate-passphrase-env"])
@pytest.mark.parametrize("value", [SECRET, PASSPHRASE_LIKE])
def test_an_env_flag_never_repeats_its_argument(capsys: pytest.CaptureFixture[str], flag: str, value: str,
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    """`--secret-env "$S"` (the value instead of the name) is refused without the value in the message."""
    pem = tmp_path_factory.mktemp("cert") / "key.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", encoding="ascii")
    credential = ["--certificate", str(pem)] if flag.startswith("--certificate") else []
    status = main(["verify", "--tenant", TENANT, "--client-id", CLIENT, "--mailbox", "a@contoso.example",
                   *credential, flag, value])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.count("\n") == 1
    assert flag in captured.err
    assert ("not a valid variable name" in captured.err) or ("not set" in captured.err)
    assert value not in captured.err + captured.out


@pytest.mark.parametrize("flag", ["--tenant", "--client-id"])
def test_an_identifier_flag_holding_a_secret_does_not_print_it(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    """A secret pasted into --tenant or --client-id is refused without being repeated."""
    values = {"--tenant": TENANT, "--client-id": CLIENT} | {flag: SECRET}
    status = main(["verify", "--tenant", values["--tenant"], "--client-id", values["--client-id"],
                   "--mailbox", "a@contoso.example"])
    err = capsys.readouterr().err
    assert status == 2
    assert flag in err
    assert SECRET not in err


@pytest.mark.parametrize("argv", [
    ["verify", "--client-secret", SECRET],
    ["verify", f"--client-secret={SECRET}"],
    ["verify", "--tenant", TENANT, SECRET],
    ["verify", "--timeout", SECRET],
    ["verify", "--cloud", SECRET],
    ["drift", "--stack", "contoso", "--format", SECRET],
    ["verify", f"--ce={SECRET}"],  # argparse's prefix matching: --certificate or --certificate-passphrase-env
    [f"verify{SECRET}"],
    ["audit", "--tenant", SECRET],
    ["adopt", "--tenant", SECRET, "--stack", "adopted"],
    ["audit", "--tenant", TENANT, "--client-id", SECRET],
    ["exchange-sign-in", "--pfx-env", SECRET, "--password-env", "EXO_PASSWORD"],
    ["exchange-sign-in", "--pfx-env", "EXO_PFX", "--password-env", SECRET],
], ids=["unknown-flag", "unknown-flag-equals", "stray-value", "bad-number", "bad-choice", "bad-choice-drift",
        "ambiguous-option", "unknown-command", "audit-tenant", "adopt-tenant", "audit-client-id", "pfx-env",
        "password-env"])
def test_a_refused_command_line_never_repeats_the_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    """A secret typed where argparse or a flag check refuses it: one line, the option named only.

    The cases: an unknown flag's value, a stray word, a bad choice, an ambiguous option's value, a command name, an
    identifier, a variable name (docs/security.md).
    """
    monkeypatch.setenv("EXO_PFX", "AAAA")
    monkeypatch.setenv("EXO_PASSWORD", "")
    try:
        status = main(argv)
    except SystemExit as stopped:  # argparse's own refusals exit from inside the parser
        status = int(stopped.code or 0)
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.count("\n") == 1
    assert SECRET not in captured.err + captured.out
