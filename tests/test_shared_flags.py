"""Flags several commands share are declared once (exo_oauth/commands/flags.py) and mean the same everywhere."""

from __future__ import annotations

import argparse
from collections import defaultdict

import pytest

from exo_oauth.cli import build_parser
from exo_oauth.commands.flags import TEXT

SHARED = ("--project-dir", "--format", "--secret-env", "--certificate", "--certificate-passphrase-env", "--cloud",
          "--authority-host", "--ca-file", "--imap", "--pop", "--smtp")
"""The flags of decision 0161's convention."""


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """Return each subcommand's parser by name."""
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def declarations() -> dict[str, dict[str, argparse.Action]]:
    """Return, per shared flag, the action each subcommand that has the flag declares for it."""
    found: dict[str, dict[str, argparse.Action]] = defaultdict(dict)
    for name, parser in subcommands().items():
        for action in parser._actions:
            for flag in set(action.option_strings) & set(SHARED):
                found[flag][name] = action
    return found


@pytest.mark.parametrize("flag", [f for f in SHARED if f != "--format"])
def test_a_shared_flag_has_one_meaning_in_every_command(flag: str) -> None:
    """Same metavar, help, type, choices and default wherever the flag appears: a copy with a variation fails here."""
    actions = declarations()[flag]
    assert len(actions) >= 2, f"{flag} is in {sorted(actions)} only: not shared"
    shapes = {(a.metavar, a.help, a.type, a.choices and tuple(a.choices), a.default) for a in actions.values()}
    assert len(shapes) == 1, f"{flag} differs between {sorted(actions)}: {shapes}"


def test_every_format_flag_defaults_to_text_and_lists_it_first() -> None:
    """plan, diff, verify, drift, audit and adopt: `text` is the default, the other formats come after it."""
    actions = declarations()["--format"]
    assert sorted(actions) == ["adopt", "audit", "diff", "drift", "plan", "verify"]
    for name, action in actions.items():
        assert action.default == TEXT, name
        assert next(iter(action.choices or ())) == TEXT, name


def test_a_folder_flag_says_dir_in_every_help() -> None:
    """`--project-dir` has the one metavar DIR (it had two)."""
    assert {a.metavar for a in declarations()["--project-dir"].values()} == {"DIR"}
