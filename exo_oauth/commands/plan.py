"""`exo-oauth plan`: show what `pulumi up` would create, offline, for one stack, several, or all."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from exo_domain.exit_codes import ExitCode, exit_help

from ..policy.rules import load_policy_config
from ..util.errors import UsageError
from ..util.files import load_json, read_text
from ..util.progress import Progress
from .flags import add_format, add_project_dir, chosen_project_dir, stack_name


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `plan` subcommand."""
    parser = subparsers.add_parser(
        "plan",
        help="show what `pulumi up` would create, offline (no tenant, no network, no pulumi CLI)",
        description="Run the Pulumi program on the SDK's mock monitor with Microsoft's real first-party IDs and "
        "stand-in IDs for per-tenant objects. "
        + exit_help(ExitCode.OK, ExitCode.USAGE, ExitCode.POLICY),
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", type=stack_name, action="append", metavar="NAME",
                       help="a stack under stacks/ (repeatable)")
    which.add_argument("--all", action="store_true", help="every stack under stacks/")
    add_format(parser, "markdown", "json")
    add_project_dir(parser)
    parser.add_argument("--policy-config", type=Path, metavar="FILE",
                        help="policy settings, in the JSON of `pulumi preview --policy-pack-config` "
                        '(for example {"credential-max-lifetime": {"maxDays": 365}})')
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="worker processes for large fleets (default: one per core)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Validate every requested stack, plan them, print the plan; return the exit status."""
    from exo_domain.config import STACKS_DIR  # noqa: PLC0415

    from ..fleet.project import load_stack, require_program, stack_names  # noqa: PLC0415
    from ..plan.offline import plan_and_judge  # noqa: PLC0415 - imports Pulumi; --help must not
    from ..plan.render import render_json, render_markdown, render_text  # noqa: PLC0415

    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: allowed: a whole number of at least 1")
    policy = None
    if args.policy_config is not None:
        source = f"--policy-config {args.policy_config}"
        allowed = "a JSON object of policy settings"
        document = load_json(read_text(args.policy_config, source, allowed), source, allowed)
        policy = load_policy_config(document, source)
    project_dir = chosen_project_dir(args)
    require_program(project_dir)
    names = stack_names(project_dir) if args.all else list(dict.fromkeys(args.stack))
    if not names:  # a fleet repository without its examples, before its first tenant
        print(f"exo-oauth plan: no stack files in {STACKS_DIR}/: nothing to plan", file=sys.stderr)
    stacks = [load_stack(project_dir, name) for name in names]
    progress = Progress("plan", len(stacks))
    try:
        plans, mandatory_failed = plan_and_judge(project_dir, stacks, datetime.now(UTC), args.jobs, policy,
                                                 on_done=progress.advance)
    finally:
        progress.close()
    render = {"text": render_text, "markdown": render_markdown, "json": render_json}[args.format]
    sys.stdout.write(render(plans))
    # A failed mandatory rule is the reason for the exit status, so it goes where CI shows errors, too.
    for verdict in (v for plan in plans for v in plan["policy"] if v["level"] == "mandatory"):
        print(f"exo-oauth plan: policy {verdict['policy']}: {verdict['message']}", file=sys.stderr)
    return ExitCode.POLICY if mandatory_failed else ExitCode.OK
