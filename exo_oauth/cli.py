"""The `exo-oauth` command line: one subcommand per job, each in exo_oauth/commands/.

Only argparse and the light command modules load here, so `exo-oauth --help` stays fast; each command imports
Pulumi, msal and the rest when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from components.errors import ConfigError

from .errors import UsageError

COMMANDS = ("plan", "diff", "exchange", "verify", "drift", "stacks", "rotation-due", "exchange-sign-in", "drift-report")
"""Subcommand modules under exo_oauth.commands, in the order `--help` lists them."""

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="exo-oauth",
        description="Move IMAP, POP and SMTP AUTH clients of Exchange Online to OAuth, as code: one Pulumi stack "
        "per tenant.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"exo_oauth.commands.{name.replace('-', '_')}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (2 for bad input, with one line on stderr and no traceback)."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except (UsageError, ConfigError) as error:
        print(f"exo-oauth {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
