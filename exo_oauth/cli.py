"""The `exo-oauth` command line: one subcommand per job, each in exo_oauth/commands/.

Only argparse and the light command modules load here, so `exo-oauth --help` stays fast; each command imports
Pulumi, msal and the rest when it runs.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import importlib
import os
import re
import sys
from collections.abc import Iterable, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any, NoReturn

from exo_domain.errors import ConfigError
from exo_domain.exit_codes import ExitCode

from .util.errors import UsageError
from .util.lifetime import Terminated, sigterm_unwinds

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

COMMANDS = ("plan", "diff", "exchange", "verify", "drift", "stacks", "audit", "adopt", "rotation-due",
            "exchange-sign-in", "drift-report", "review-comment")
"""Subcommand modules under exo_oauth.commands, in the order `--help` lists them."""

DISTRIBUTION = "exo-oauth"
"""The distribution name in pyproject.toml, whose metadata holds the version."""

OUTPUT_ERRORS = frozenset({errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EFBIG, errno.EDQUOT, errno.EBADF})
"""Write errors that mean the output did not arrive in full."""


class _Parser(argparse.ArgumentParser):
    """argparse with one error format for the top level and every subcommand, never repeating a typed value.

    A failed write of `--help` or a usage message is not ignored either (argparse drops it).
    """

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            (file or sys.stderr).write(message)

    def error(self, message: str) -> NoReturn:
        """Exit with ExitCode.USAGE and one line: `PROG: problem; allowed: ...`, the problem without any value typed."""
        problem, allowed = _without_values(message, self._option_string_actions)
        allowed = allowed or f"the options of `{self.prog} --help`"
        self.exit(ExitCode.USAGE, f"{self.prog}: {problem}; allowed: {allowed}\n")


_TYPED_VALUE = re.compile(r"(invalid (?:choice|[\w ]+ value)): '([^']*)'(?: \(choose from ([^)]*)\))?")
"""argparse's `invalid float value: '...'` and `invalid choice: '...' (choose from ...)`, which repeat what was
typed."""
_AMBIGUOUS = re.compile(r"^(ambiguous option: -*[^=\s]*)=\S*")
"""argparse's `ambiguous option: --ce=VALUE could match ...`, which repeats the value after `=`."""
_UNRECOGNIZED = "unrecognized arguments: "


def _without_values(message: str, options: Iterable[str]) -> tuple[str, str | None]:
    """Return argparse's message without the values typed, and what is allowed if the message says.

    A secret pasted in the wrong place is never echoed. A mistyped option or choice gets the nearest known one.
    """
    if message.startswith(_UNRECOGNIZED):
        return _unrecognized(message.removeprefix(_UNRECOGNIZED).split(), sorted(options)), None
    message = _AMBIGUOUS.sub(r"\1", message)
    if (typed := _TYPED_VALUE.search(message)) is None:
        return message, None
    problem, value, listed = typed.groups()
    problem = f"{message[:typed.start()]}{problem} (not repeated)"
    if listed is None:
        return problem, None
    choices = [choice.strip(" '") for choice in listed.split(",")]
    return problem + _nearest(value, choices), ", ".join(choices)


def _nearest(typed: str, known: Sequence[str]) -> str:
    """`, did you mean X?` for the known word nearest to `typed`, or nothing when none is near."""
    near = difflib.get_close_matches(typed, known, n=1)
    return f", did you mean {near[0]}?" if near else ""


def _unrecognized(tokens: Sequence[str], options: Sequence[str]) -> str:
    """Name the unknown options among `tokens` (without `=value`) and only count the other words.

    Each option comes with the nearest known one, if one is near.
    """
    names = [token.split("=", 1)[0] for token in tokens if token.startswith("-")]
    named = [f"unknown option {name}{_nearest(name, options)}" for name in names]
    others = len(tokens) - len(names)
    return "; ".join([*named, *([f"{others} unexpected value(s), not repeated"] if others else [])])


class _Version(argparse.Action):
    """`--version`: the version of the installed distribution, whose one home is pyproject.toml's `version`."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> NoReturn:
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415 - only for --version

        try:
            installed = version(DISTRIBUTION)
        except PackageNotFoundError:
            installed = "unknown (not installed: `pip install -e .` in the project)"
        parser._print_message(f"{parser.prog} {installed}\n", sys.stdout)
        parser.exit(ExitCode.OK)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every subcommand registered."""
    parser = _Parser(
        prog="exo-oauth",
        description="Move IMAP, POP and SMTP AUTH clients of Exchange Online to OAuth, as code: one Pulumi stack "
        "per tenant.",
    )
    parser.add_argument("--version", action=_Version, help="print the installed version and exit")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"exo_oauth.commands.{name.replace('-', '_')}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (USAGE for bad input, with one line on stderr and no traceback).

    Output that cannot be written in full (a full disk, /dev/full, a closed pipe) is `ExitCode.OUTPUT` with one
    line: the output is flushed here, inside the check, so no write error surfaces only at exit or goes unnoticed.
    SIGTERM unwinds like Ctrl-C (temporary trees removed, workers killed) and exits `ExitCode.TERMINATED`.
    """
    command = "exo-oauth"
    _hold_closed_stdout()
    _utf8_output()
    try:
        with sigterm_unwinds():
            args = _parse(argv)
            command = f"exo-oauth {args.command}"
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


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line; `--help` and usage errors exit here, after their output is flushed (and checked).

    Words the subcommand does not know are its error, not the top level's: the line names the subcommand.
    """
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            commands.choices[args.command].error(f"{_UNRECOGNIZED}{' '.join(unknown)}")
        return args
    except SystemExit:
        sys.stdout.flush()
        raise


def _utf8_output() -> None:
    """Write UTF-8 on every OS, whatever the locale.

    On Windows a redirected stdout would otherwise use the ANSI code page (cp1252), which cannot write every display
    name, and a saved plan or script would differ by machine.
    """
    for stream in (sys.stdout, sys.stderr):
        with suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(encoding="utf-8")  # type: ignore[union-attr]


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
