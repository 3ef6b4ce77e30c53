"""`exo-oauth exchange`: print a deployed stack's Exchange Online scripts (apply, verify, remove)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from components.exchange_actions import ACTIONS, script_name
from components.exit_codes import ExitCode

from ..errors import UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `exchange` subcommand."""
    parser = subparsers.add_parser(
        "exchange",
        help="print the Exchange Online PowerShell (apply, verify, remove) for a deployed stack",
        description="Render the stack's Exchange Online scripts from its deployed IDs (`pulumi stack output --json`, "
        "or a saved copy given with --outputs) and its exo-oauth:exchange settings. With --action, print that one "
        "script alone, ready to save as a .ps1 file and run with pwsh -File; without it, print all three with "
        f"separators, for reading. verify exits {int(ExitCode.DRIFT)} when something drifted.",
    )
    parser.add_argument("--stack", required=True, metavar="NAME", help="a stack under stacks/")
    parser.add_argument("--action", choices=ACTIONS, help="print only this script (default: all three)")
    parser.add_argument("--outputs", type=Path, metavar="FILE",
                        help="the saved output of `pulumi stack output --json` (default: ask the pulumi CLI)")
    parser.add_argument("--project-dir", type=Path, help="the project folder (default: nearest Pulumi.yaml above here)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Read the stack file and the deployed outputs, render the scripts and print the requested ones."""
    # These load PyYAML and the config parser (cryptography, email-validator), which `exo-oauth --help` does not need.
    from components.exchange_scripts import ExchangeApp, build_exchange_inputs, render_exchange_scripts  # noqa: PLC0415

    from ..project import find_project_dir, load_stack  # noqa: PLC0415
    from ..stack_outputs import load_outputs  # noqa: PLC0415

    project_dir = args.project_dir.resolve() if args.project_dir else find_project_dir()
    stack = load_stack(project_dir, args.stack)
    outputs = load_outputs(args.stack, project_dir, args.outputs)
    source = f"--outputs {args.outputs}" if args.outputs else f"pulumi stack output --stack {args.stack}"
    if outputs.tenant_id != stack.config.tenant_id:
        raise UsageError(f"{source}: tenantId {outputs.tenant_id!r} is not the tenant of {stack.config.source} "
                         f"({stack.config.tenant_id}); allowed: the outputs of stack {args.stack}")
    apps = [ExchangeApp.from_outputs(app) for app in outputs.apps.values()]
    scripts = render_exchange_scripts(
        build_exchange_inputs(args.stack, stack.config.tenant_id, apps, stack.config.exchange, source)
    )
    if args.action:
        sys.stdout.write(scripts[args.action])
        return ExitCode.OK
    for action in ACTIONS:
        sys.stdout.write(f"# ===== {script_name(action)} (stack {args.stack}) =====\n{scripts[action]}\n")
    return ExitCode.OK
