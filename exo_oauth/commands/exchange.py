"""`exo-oauth exchange`: write or print a stack's Exchange Online scripts (apply, verify, remove), deployed or not."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exo_domain.errors import ConfigError
from exo_domain.exchange_actions import ACTIONS, result_name, runner_name, script_name
from exo_domain.exchange_module import MODULE_NAME
from exo_domain.exit_codes import ExitCode, exit_help

from ..util.errors import UsageError
from .flags import add_project_dir, chosen_project_dir, stack_name
from .out_dir import write_out_dir

if TYPE_CHECKING:
    from exo_domain.config import StackConfig
    from exo_domain.exchange_scripts import ExchangeApp
    from exo_domain.outputs import StackOutputs

    from ..fleet.project import LoadedStack

STANDIN_ID = re.compile(r"00000000-[0-9a-f]{4}-4000-8000-[0-9a-f]{12}", re.IGNORECASE)
"""The offline plan's stand-in IDs (plan_mocks.standin_id): never the ID of a deployed object."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `exchange` subcommand."""
    parser = subparsers.add_parser(
        "exchange",
        help="write or print the Exchange Online PowerShell (apply, verify, remove) for a deployed stack",
        description="Render the stack's Exchange Online scripts from its deployed IDs (`pulumi stack output --json`, "
        "or a saved copy given with --outputs) and its exo-oauth:exchange settings. With --out DIR, write them "
        "(or the --action one) into DIR beside the module they import, ExoOAuth.psm1, ready to run with pwsh -File; "
        "each script checks the module's SHA-256 before it imports it. Without --out, print them for reading "
        f"(all three with separators, or the --action one). verify exits {int(ExitCode.DRIFT)} when something "
        "drifted. --offline renders from the offline plan before any deploy: the IDs are stand-ins and the scripts "
        "refuse to run. For a fleet job, --stack more than once (or --runners N) with --out and --action writes each "
        "stack's script into DIR/<stack>/ and N runner scripts into DIR that each run their share of the stacks one "
        "after another in one PowerShell process (docs/exchange.md); a stack that cannot be rendered is left out. "
        + exit_help(ExitCode.OK, ExitCode.USAGE, ExitCode.NOT_RUN),
    )
    parser.add_argument("--stack", type=stack_name, required=True, action="append", metavar="NAME",
                        help="a stack under stacks/ (again for each further stack, with --out and --action)")
    parser.add_argument("--action", choices=ACTIONS, help="only this script (default: all three)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="write the scripts and ExoOAuth.psm1 into DIR (created if needed) instead of printing")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--outputs", type=Path, metavar="FILE",
                        help="the saved output of `pulumi stack output --json` (default: ask the pulumi CLI)")
    source.add_argument("--offline", action="store_true",
                        help="render from the offline plan (stand-in IDs, not runnable), e.g. for review before a "
                        "deploy")
    parser.add_argument("--previous", type=Path, metavar="OLD",
                        help="the saved `pulumi stack output --json` from before the update: apply then first "
                        "revokes what OLD held in Exchange Online and the deployed outputs do not (docs/exchange.md)")
    parser.add_argument("--runners", type=int, metavar="N",
                        help="with --out and --action: also write N runner scripts (default 1 with several stacks) "
                        "that share the stacks out, each running its stacks' scripts in one PowerShell process")
    add_project_dir(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Render the scripts of one stack and print or write them, or write several stacks' scripts and their runners."""
    if len(args.stack) == 1 and args.runners is None:
        return _one_stack(args, args.stack[0])
    if args.out is None or args.action is None or args.outputs is not None or args.previous is not None:
        raise UsageError("--stack more than once, or --runners: allowed: with --out DIR and --action, without "
                         "--outputs and --previous (each stack's outputs come from the pulumi CLI)")
    if args.runners is not None and args.runners < 1:
        raise UsageError(f"--runners {args.runners}: allowed: 1 or more")
    from exo_domain.exchange_runner import render_runner, split_stacks  # noqa: PLC0415

    scripts = {}
    for name in dict.fromkeys(args.stack):
        try:
            scripts[name] = _stack_scripts(args, name)[args.action]
        except (UsageError, ConfigError) as error:
            # One stack that cannot be rendered (say, never deployed) must not cost the others their checks.
            print(f"exo-oauth exchange: stack {name} left out: {error}", file=sys.stderr)
    if not scripts:
        raise UsageError("--stack: no stack could be rendered (each is named above)")
    stacks = list(scripts)
    shares = split_stacks(stacks, args.runners or 1)
    _forget_earlier_runs(args.out, args.action, stacks)
    for name, text in scripts.items():
        write_out_dir("--out", args.out / name, {script_name(args.action): text})
    write_out_dir("--out", args.out, {runner_name(i, args.action): render_runner(args.action, share)
                                      for i, share in enumerate(shares, 1)}, module=False)
    print(f"exo-oauth exchange: wrote {script_name(args.action)} of {len(stacks)} stack(s) into {args.out}/<stack>/ "
          f"and {len(shares)} runner(s), {runner_name(1, args.action)} and on", file=sys.stderr)
    return ExitCode.OK if len(stacks) == len(set(args.stack)) else ExitCode.NOT_RUN


def _forget_earlier_runs(folder: Path, action: str, stacks: Sequence[str]) -> None:
    """Remove the runners and the stacks' results an earlier run left in `folder`: none may pass for this run's."""
    stale = [*folder.glob(runner_name("*", action)),
             *(folder / name / result_name(action) for name in stacks)]
    try:
        for path in stale:
            path.unlink(missing_ok=True)
    except OSError as error:
        raise UsageError(f"--out {folder}: cannot remove {path} of an earlier run ({error.strerror or error}); "
                         "allowed: a folder you may write") from None


def _one_stack(args: argparse.Namespace, name: str) -> int:
    """Render one stack's scripts and print them, or write them into --out."""
    scripts = _stack_scripts(args, name)
    chosen = [args.action] if args.action else list(ACTIONS)
    if args.out is not None:
        write_out_dir("--out", args.out, {script_name(action): scripts[action] for action in chosen})
        print(f"exo-oauth exchange: wrote {', '.join(script_name(a) for a in chosen)} and {MODULE_NAME} into "
              f"{args.out}", file=sys.stderr)
        return ExitCode.OK
    if args.action:
        sys.stdout.write(scripts[args.action])
        return ExitCode.OK
    for action in ACTIONS:
        sys.stdout.write(f"# ===== {script_name(action)} (stack {name}) =====\n{scripts[action]}\n")
    return ExitCode.OK


def _stack_scripts(args: argparse.Namespace, name: str) -> dict[str, str]:
    """Read the stack file and the deployed outputs (or plan it offline); return its three scripts by action."""
    # These load PyYAML and the config parser (cryptography, email-validator), which `exo-oauth --help` does not need.
    from ..fleet.project import load_stack  # noqa: PLC0415

    if args.previous is not None and (args.offline or args.action not in (None, "apply")):
        raise UsageError("--previous: only the apply script revokes, from deployed outputs; allowed: --previous with "
                         "--action apply (or no --action) and without --offline")
    project_dir = chosen_project_dir(args)
    stack = load_stack(project_dir, name)
    previous: Sequence[ExchangeApp] = ()
    if args.previous is not None:
        previous = _previous_apps(stack, args.previous)
    if args.offline:
        source = f"offline plan of stack {name}"
        apps = _planned_apps(project_dir, stack)
    else:
        from ..fleet.stack_outputs import load_outputs  # noqa: PLC0415

        source = outputs_source(stack.name, args.outputs)
        apps = _deployed_apps(stack, load_outputs(stack.name, project_dir, args.outputs), source)
        stale = stale_outputs(stack.config, apps)
        if stale:
            print(f"exo-oauth exchange: note: the deployed outputs differ from {stack.config.source} ({stale}); "
                  "these scripts follow what is deployed: run pulumi up first to apply the stack file",
                  file=sys.stderr)
    return _render(stack, apps, source, offline=args.offline, previous=previous)


def outputs_source(stack: str, outputs_file: Path | None) -> str:
    """Name where deployed outputs came from, for error messages: `--outputs FILE` or the pulumi CLI."""
    return f"--outputs {outputs_file}" if outputs_file else f"pulumi stack output --stack {stack}"


def deployed_script(action: str, stack: LoadedStack, outputs: StackOutputs, source: str) -> str:
    """Return the stack's `action` script (ACTIONS) rendered from its deployed `outputs`.

    Raises UsageError for another tenant's outputs or stand-in IDs, ConfigError naming the key path of a bad value.
    """
    return _render(stack, _deployed_apps(stack, outputs, source), source)[action]


def _render(stack: LoadedStack, apps: Any, source: str, *, offline: bool = False,
            previous: Sequence[ExchangeApp] = ()) -> dict[str, str]:
    from exo_domain.exchange_scripts import exchange_inputs, render_exchange_scripts  # noqa: PLC0415

    inputs = exchange_inputs(stack.name, stack.config.tenant_id, apps, stack.config.exchange, source=source,
                             cloud=stack.config.cloud)
    return render_exchange_scripts(inputs, offline=offline, previous=previous)


def _planned_apps(project_dir: Path, stack: LoadedStack) -> Any:
    from ..plan.offline import plan_stack  # noqa: PLC0415 - imports Pulumi

    return plan_stack(project_dir, stack, datetime.now(UTC)).outputs.get("apps", {})


def _previous_apps(stack: LoadedStack, path: Path) -> Sequence[ExchangeApp]:
    """Return the apps of the outputs saved before the update; none for a stack that was never deployed."""
    from exo_domain.exchange_scripts import exchange_inputs  # noqa: PLC0415

    from ..fleet.stack_outputs import load_previous_outputs  # noqa: PLC0415

    outputs = load_previous_outputs(path)
    if outputs is None:
        return ()
    source = f"--previous {path}"
    return exchange_inputs(stack.name, stack.config.tenant_id, _deployed_apps(stack, outputs, source),
                           stack.config.exchange, source=source, cloud=stack.config.cloud).apps


def _deployed_apps(stack: LoadedStack, outputs: StackOutputs, source: str) -> Any:
    """Return the outputs' `apps`; refuse another tenant's outputs and stand-in IDs."""
    if outputs.tenant_id != stack.config.tenant_id:
        raise UsageError(f"{source}: tenantId {outputs.tenant_id!r} is not the tenant of {stack.config.source} "
                         f"({stack.config.tenant_id}); allowed: the outputs of stack {stack.name}")
    apps = {name: app.to_wire() for name, app in outputs.apps.items()}
    standin = _first_standin(apps, "apps")
    if standin is not None:
        raise UsageError(f"{source}: {standin[0]}: {standin[1]!r} is a stand-in ID of the offline plan, not a "
                         "deployed object; allowed: the outputs of a deployed stack, or --offline for a preview")
    return apps


def _first_standin(value: Any, path: str) -> tuple[str, str] | None:
    """Return the key path and value of the first stand-in ID anywhere in `value`, or None."""
    if isinstance(value, str):
        return (path, value) if STANDIN_ID.fullmatch(value) else None
    if isinstance(value, Mapping):
        items: list[tuple[str, Any]] = [(f"{path}.{key}", item) for key, item in value.items()]
    elif isinstance(value, list):
        items = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
    else:
        return None
    return next((found for key, item in items if (found := _first_standin(item, key)) is not None), None)


def stale_outputs(config: StackConfig, apps: Any) -> str:
    """Say in a few words how the deployed `apps` output differs from the stack file; '' when it does not."""
    if not isinstance(apps, Mapping):
        return ""
    wanted = {app.name: app for app in config.apps}
    notes = [f"app {name!r} not deployed yet" for name in sorted(set(wanted) - set(apps))]
    notes += [f"app {name!r} no longer in the stack file" for name in sorted(set(apps) - set(wanted), key=str)]
    for name in sorted(set(wanted) & set(apps)):
        deployed, app = apps[name], wanted[name]
        if not isinstance(deployed, Mapping):
            continue
        boxes = {(m.address.lower(), m.send_as) for m in app.mailboxes}
        deployed_boxes = {(str(m.get("address", "")).lower(), m.get("sendAs"))
                          for m in deployed.get("mailboxes") or [] if isinstance(m, Mapping)}
        changed = [label for label, same in (
            ("display name", deployed.get("displayName", name) == app.display_name),
            ("flow", deployed.get("flow") == app.flow),
            ("protocols", list(deployed.get("protocols") or []) == list(app.protocols)),
            ("mailboxes", deployed_boxes == boxes),
        ) if not same]
        if changed:
            notes.append(f"app {name!r}: {', '.join(changed)} changed")
    return "; ".join(notes)
