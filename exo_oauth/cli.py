"""The `exo-oauth` command line: one subcommand per job, each in exo_oauth/commands/.

Only argparse and the light command modules load here, so `exo-oauth --help` stays fast; each command imports
Pulumi, msal and the rest when it runs.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import re
import sys
from collections.abc import Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, NoReturn

from components.errors import ConfigError
from components.exit_codes import ExitCode

from .errors import UsageError
from .lifetime import Terminated, sigterm_unwinds

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

COMMANDS = ("plan", "diff", "exchange", "verify", "drift", "stacks", "audit", "adopt", "rotation-due",
            "exchange-sign-in", "drift-report", "review-comment")
"""Subcommand modules under exo_oauth.commands, in the order `--help` lists them."""

OUTPUT_ERRORS = frozenset({errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EFBIG, errno.EDQUOT, errno.EBADF})
"""Write errors that mean the output did not arrive in full."""


class _Parser(argparse.ArgumentParser):
    """argparse, except that a failed write of `--help` or a usage message is not ignored (argparse drops it)."""

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            (file or sys.stderr).write(message)


class _SubcommandParser(_Parser):
    """A subcommand's parser: a mistake on its command line is one line naming the subcommand, not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.USAGE, f"{self.prog}: {_without_values(message)}; allowed: the options of "
                                  f"`{self.prog} --help`\n")


_TYPED_VALUE = re.compile(r"(invalid (?:choice|[\w ]+ value)): '[^']*'")
"""argparse's `invalid float value: '...'` and `invalid choice: '...'`, which repeat what was typed."""


def _without_values(message: str) -> str:
    """Return argparse's message without the values typed: a secret pasted in the wrong place is never echoed."""
    unrecognized = "unrecognized arguments: "
    if message.startswith(unrecognized):
        return unrecognized + _option_names(message.removeprefix(unrecognized).split())
    return _TYPED_VALUE.sub(r"\1", message)


def _option_names(tokens: Sequence[str]) -> str:
    """Name the options among `tokens` (`--name`, without any `=value`) and only count the other words."""
    names = [token.split("=", 1)[0] for token in tokens if token.startswith("-")]
    others = len(tokens) - len(names)
    return ", ".join([*names, *([f"{others} value(s), not repeated"] if others else [])])


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every subcommand registered."""
    parser = _Parser(
        prog="exo-oauth",
        description="Move IMAP, POP and SMTP AUTH clients of Exchange Online to OAuth, as code: one Pulumi stack "
        "per tenant.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                       parser_class=_SubcommandParser)
    for name in COMMANDS:
        importlib.import_module(f"exo_oauth.commands.{name.replace('-', '_')}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (2 for bad input, with one line on stderr and no traceback).

    Output that cannot be written in full (a full disk, /dev/full, a closed pipe) is `ExitCode.OUTPUT` with one
    line: the output is flushed here, inside the check, so no write error surfaces only at exit or goes unnoticed.
    SIGTERM unwinds like Ctrl-C (temporary trees removed, workers killed) and exits `ExitCode.TERMINATED`.
    """
    command = "exo-oauth"
    _hold_closed_stdout()
    try:
        with sigterm_unwinds():
            args, unknown = _parse(argv)
            command = f"exo-oauth {args.command}"
            if unknown:
                _say(f"{command}: unrecognized arguments: {_option_names(unknown)}; allowed: the options of "
                     f"`{command} --help`")
                return ExitCode.USAGE
            status: int = args.run(args)
            sys.stdout.flush()
    except (UsageError, ConfigError) as error:
        _say(f"{command}: {error}")
        return ExitCode.USAGE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Terminated:
        return ExitCode.TERMINATED
    except OSError as error:
        if error.errno not in OUTPUT_ERRORS:
            raise
        _discard_stdout()
        _say(f"{command}: could not write the output ({error.strerror}); it is incomplete, do not "
             "use it")
        return ExitCode.OUTPUT
    return status


def _parse(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """Parse the command line; `--help` and usage errors exit here, after their output is flushed (and checked)."""
    try:
        return build_parser().parse_known_args(argv)
    except SystemExit:
        sys.stdout.flush()
        raise


def _say(line: str) -> None:
    with suppress(OSError):
        print(line, file=sys.stderr, flush=True)


def _hold_closed_stdout() -> None:
    """Make a closed stdout (`>&-`) fail on the first write of output, as a closed pipe does (ExitCode.OUTPUT).

    Python leaves sys.stdout None when file descriptor 1 is closed, and the next file opened would become
    descriptor 1. A read-only /dev/null there keeps it taken; writing to it fails with EBADF.
    """
    if sys.stdout is not None:
        return
    with suppress(OSError):
        os.fstat(1)
        return  # descriptor 1 is open; only Python chose not to use it
    with suppress(OSError):
        held = os.open(os.devnull, os.O_RDONLY)
        if held != 1:
            os.dup2(held, 1)
            os.close(held)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 - stdout stays open until exit


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's own flush at exit finds nothing left to fail on."""
    with suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
