"""The `exo-oauth` command line: one subcommand per job, each in exo_oauth/commands/.

Only argparse and the light command modules load here, so `exo-oauth --help` stays fast; each command imports
Pulumi, msal and the rest when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from components.errors import ConfigError
from components.exit_codes import ExitCode

from .errors import UsageError

COMMANDS = ("plan", "diff", "exchange", "verify", "drift", "stacks", "audit", "adopt", "rotation-due",
            "exchange-sign-in", "drift-report", "review-comment")
"""Subcommand modules under exo_oauth.commands, in the order `--help` lists them."""


class _SubcommandParser(argparse.ArgumentParser):
    """A subcommand's parser: a mistake on its command line is one line naming the subcommand, not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.USAGE, f"{self.prog}: {message}; allowed: the options of `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
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
    """Run the CLI; return the exit status (2 for bad input, with one line on stderr and no traceback)."""
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        print(f"exo-oauth {args.command}: unrecognized arguments: {' '.join(unknown)}; allowed: the options of "
              f"`exo-oauth {args.command} --help`", file=sys.stderr)
        return ExitCode.USAGE
    try:
        status: int = args.run(args)
    except (UsageError, ConfigError) as error:
        print(f"exo-oauth {args.command}: {error}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    return status


if __name__ == "__main__":
    sys.exit(main())
