"""Every command and script takes its exit statuses from the one table in components/exit_codes.py."""

from __future__ import annotations

import re

import pytest

from components.exit_codes import MEANINGS, ExitCode, exit_help
from exo_oauth.cli import main
from tests.stack_factory import REPO


def test_every_exit_code_has_a_meaning_and_its_users() -> None:
    """The table documents each code once, so the generated docs page misses none."""
    assert set(MEANINGS) == set(ExitCode)
    assert all(meaning and users for meaning, users in MEANINGS.values())


def test_no_module_defines_its_own_numeric_exit_status() -> None:
    """No module outside exit_codes.py gives an exit status constant its own number."""
    offenders = []
    for path in [*REPO.glob("components/*.py"), *REPO.glob("exo_oauth/**/*.py")]:
        if path.name == "exit_codes.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"^\s*\w*(?:EXIT|STATUS)\w*(?:\s*,\s*\w+)*\s*=\s*\d", text, flags=re.MULTILINE):
            offenders.append(path.name)
    assert offenders == []


def test_help_sentence_names_each_status_with_its_number() -> None:
    """A command's --help lists its statuses by number and name, pointing at the full table."""
    assert exit_help(ExitCode.OK, ExitCode.NOT_RUN) == "Exit status: 0 ok, 4 not run (docs/exit-codes.md)."


@pytest.mark.parametrize("command", ["audit", "adopt"])
def test_tenant_commands_help_gives_the_table_status_for_an_unreadable_graph(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`audit` and `adopt` return NOT_RUN when Graph cannot be read; their --help gives that number from the table."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert exit_help(ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.NOT_RUN) in help_text
