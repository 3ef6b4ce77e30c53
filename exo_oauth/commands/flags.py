"""The flags several commands share, declared once: project folder, output format, credential, cloud and hosts.

The conventions (decision 0161): `--format` lists `text` first and defaults to it (what a person reads on a
terminal), then the formats for review (`markdown`) and for tools (`json`); a flag that takes a folder, file or
variable says so in its metavar (DIR, FILE, PEM, VAR) and means the same in every command. Light, since
`exo-oauth --help` loads it.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from exo_domain.microsoft import PROTOCOLS

from ..verify.clouds import CLOUDS

STACK_FILE_TYPED = re.compile(r"(?:\.[/\\])?(?:stacks[/\\])?Pulumi\.(.+)\.yaml")
"""A stack's file as people type it (tab completion, from the project or from stacks/, `/` or `\\`)."""

TEXT = "text"
"""The default format of every command that has `--format`: for a person at a terminal."""


def add_format(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *others: str) -> None:
    """Add `--format`: `text` (the default) and `others`, the formats for review and tools the command writes."""
    parser.add_argument("--format", choices=(TEXT, *others), default=TEXT,
                        help=f"output format (default: {TEXT})")


def add_project_dir(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add `--project-dir DIR`; read it with `chosen_project_dir(args)`."""
    parser.add_argument("--project-dir", type=Path, metavar="DIR",
                        help="the project folder (default: the nearest folder with a Pulumi.yaml, here or above)")


def chosen_project_dir(args: argparse.Namespace) -> Path:
    """Return the project folder: `--project-dir`, else the nearest folder with a Pulumi.yaml at or above here."""
    from ..fleet.project import find_project_dir  # noqa: PLC0415 - loads the config module; --help must not

    return Path(args.project_dir).resolve() if args.project_dir else find_project_dir()


def stack_name(typed: str) -> str:
    """Return the stack a `--stack` value names: `contoso`, `Pulumi.contoso.yaml` or `stacks/Pulumi.contoso.yaml`.

    Anything else comes back unchanged, for the stack name check to refuse with its one line.
    """
    match = STACK_FILE_TYPED.fullmatch(typed)
    return match.group(1) if match else typed


def add_secret_env(group: argparse._ArgumentGroup) -> None:
    """Add `--secret-env VAR`: the client secret, by the name of the variable that holds it (never the value)."""
    group.add_argument("--secret-env", metavar="VAR", help="environment variable holding the client secret value")


def add_certificate(group: argparse._ArgumentGroup) -> None:
    """Add `--certificate PEM` and `--certificate-passphrase-env VAR`: a certificate credential with its key."""
    group.add_argument("--certificate", type=Path, metavar="PEM",
                       help="PEM file with the app's private key and its certificate")
    group.add_argument("--certificate-passphrase-env", metavar="VAR",
                       help="environment variable holding the private key's passphrase")


def add_cloud_and_hosts(group: argparse._ArgumentGroup, *, mail: bool = False) -> None:
    """Add `--cloud`, `--authority-host` and `--ca-file`; with `mail`, the IMAP, POP and SMTP endpoints too."""
    group.add_argument("--cloud", choices=tuple(CLOUDS),
                       help="Microsoft cloud: login, Graph and mail hosts (default: the stack's exo-oauth:cloud where "
                       "there is a stack, else global)")
    group.add_argument("--authority-host", metavar="URL", help="override the login host (https://HOST[:PORT])")
    if mail:
        for protocol in PROTOCOLS:  # one flag per protocol of Microsoft's facts, with its security
            group.add_argument(f"--{protocol.name}", metavar="HOST:PORT",
                               help=f"override the {protocol.label} endpoint ({protocol.security.upper()})")
    group.add_argument("--ca-file", type=Path, metavar="PEM",
                       help="trust only these CA certificates (TLS is always verified)")
