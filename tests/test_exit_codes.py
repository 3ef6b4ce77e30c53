"""Every command and script takes its exit statuses from the one table in exo_domain/exit_codes.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from exo_domain.exit_codes import MEANINGS, ExitCode, exit_help
from exo_oauth.cli import main
from tests.sources import source_files


def test_every_exit_code_has_a_meaning_and_its_users() -> None:
    """The table documents each code once, so the generated docs page misses none."""
    assert set(MEANINGS) == set(ExitCode)
    assert all(meaning and users for meaning, users in MEANINGS.values())


def test_no_module_defines_its_own_numeric_exit_status() -> None:
    """No module outside exit_codes.py gives an exit status constant its own number."""
    offenders = []
    for path in source_files():
        if path.name == "exit_codes.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"^\s*\w*(?:EXIT|STATUS)\w*(?:\s*,\s*\w+)*\s*=\s*\d", text, flags=re.MULTILINE):
            offenders.append(path.name)
    assert offenders == []


EXIT_CALLS = {"exit", "_exit", "SystemExit"}
STATUS_NAMES = {"returncode", "status", "exit_status"}
WRITTEN_STATUS = re.compile(r"\b(?:exits?|exit status|status(?:es)?)\s+(?:with\s+)?\d|\bExit\s+\d", re.IGNORECASE)
"""An exit status spelled as a number in text (a --help sentence, a message): `exit_help` or a name says it instead."""


def _name(node: ast.expr) -> str | None:
    """Return the name a call or comparison uses: `exit` for `sys.exit`, `returncode` for `done.returncode`."""
    return getattr(node, "attr", getattr(node, "id", None))


def _literal_statuses(path: Path) -> list[str]:
    """Return where `path` gives an exit status as a literal number instead of an ExitCode."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    command = path.parent.name == "commands" or path.name == "cli.py"
    found = []
    for node in ast.walk(tree):
        numbers: list[ast.expr] = []
        if isinstance(node, ast.Return) and command and node.value is not None:
            numbers = [node.value]
        elif isinstance(node, ast.Call) and _name(node.func) in EXIT_CALLS:
            numbers = node.args[:1]
        elif isinstance(node, ast.Compare) and _name(node.left) in STATUS_NAMES:
            elements = [element for item in node.comparators
                        for element in (item.elts if isinstance(item, ast.Tuple | ast.Set) else [item])]
            # A lone 0 is every tool's own success (git, pulumi); a set of statuses, or another number, is ours.
            numbers = elements if len(elements) > 1 else [
                element for element in elements if not (isinstance(element, ast.Constant) and element.value == 0)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and WRITTEN_STATUS.search(node.value):
            found.append(f"{path.name}:{node.lineno}: {WRITTEN_STATUS.search(node.value).group(0)!r}")  # type: ignore[union-attr]
        found += [f"{path.name}:{number.lineno}: {ast.unparse(number)}" for number in numbers
                  if isinstance(number, ast.Constant) and type(number.value) is int]
    return found


def test_no_exit_status_is_a_literal_number() -> None:
    """Commands return, compare and describe exit statuses by their ExitCode name, never as a bare number."""
    assert [found for path in source_files() if path.name != "exit_codes.py" for found in _literal_statuses(path)] == []


@pytest.mark.parametrize("code", [
    "def run(args):\n    return 0\n",
    "import sys\nsys.exit(2)\n",
    "raise SystemExit(4)\n",
    "if done.returncode not in (0, 3):\n    pass\n",
    "if process.status == 5:\n    pass\n",
    'HELP = "Exit 0, or 2 on bad input."\n',
    'HELP = "Findings exit 1; a host that cannot be read, 4."\n',
])
def test_the_exit_literal_guard_finds(code: str, tmp_path: Path) -> None:
    """Each way a number once stood for an exit status is found."""
    module = tmp_path / "commands" / "example.py"
    module.parent.mkdir()
    module.write_text(code, encoding="utf-8")
    assert _literal_statuses(module)


def test_the_exit_literal_guard_allows_names_and_other_tools_success(tmp_path: Path) -> None:
    """ExitCode members, and a tool's own success status 0, are not literals of ours."""
    module = tmp_path / "commands" / "example.py"
    module.parent.mkdir()
    module.write_text('if done.returncode != 0:\n    return ExitCode.USAGE\nsys.exit(main())\nHELP = "exits early"\n',
                      encoding="utf-8")
    assert _literal_statuses(module) == []


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
