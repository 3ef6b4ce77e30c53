"""The sign-in, host and time-limit flags `audit` and `adopt` share; light, since `exo-oauth --help` loads it."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..verify.clouds import CLOUDS

DEFAULT_TIMEOUT = 30.0
DEFAULT_DEADLINE = 600.0


def add_signin_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sign-in, host and time-limit flags that `audit` and `adopt` share."""
    group = parser.add_argument_group("sign-in to Microsoft Graph (read-only)")
    group.add_argument("--client-id", metavar="ID", help="the app to sign in as; with --secret-env or --certificate "
                       "a read-only app (client credentials), else a public client for device code (default: "
                       "Microsoft Graph Command Line Tools)")
    group.add_argument("--secret-env", metavar="VAR", help="environment variable holding the client secret value")
    group.add_argument("--certificate", type=Path, metavar="PEM", help="PEM file with the private key and certificate")
    group.add_argument("--certificate-passphrase-env", metavar="VAR",
                       help="environment variable holding the private key's passphrase")
    hosts = parser.add_argument_group("clouds and hosts")
    hosts.add_argument("--cloud", choices=tuple(CLOUDS), help="Microsoft cloud (default: global)")
    hosts.add_argument("--authority-host", metavar="URL", help="override the login host (https://HOST[:PORT])")
    hosts.add_argument("--graph-host", metavar="URL", help="override Microsoft Graph's host (https://HOST[:PORT])")
    hosts.add_argument("--ca-file", type=Path, metavar="PEM", help="trust only these CA certificates")
    hosts.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                       help=f"per request (default: {DEFAULT_TIMEOUT:g})")
    hosts.add_argument("--deadline", type=float, default=DEFAULT_DEADLINE, metavar="SECONDS",
                       help=f"for the whole run, throttling waits included (default: {DEFAULT_DEADLINE:g})")
