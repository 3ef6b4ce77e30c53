"""The offline plan: run the real Pulumi program on the SDK's mock monitor and record what `pulumi up` would do.

No tenant, no network and no pulumi CLI: registrations and look-ups are answered by plan_mocks.PlanMocks.
Stacks run one after another in a process, the runtime reset between them; large fleets are split over one worker
process per core.
"""

from __future__ import annotations

import gc
import json
import os
import runpy
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pulumi

from components import pulumi_sdk
from exo_domain.config import PROJECT
from exo_domain.rotation import fixed_clock

from ..fleet.project import LoadedStack, require_program
from ..policy.rules import PolicyConfig, evaluate
from ..policy.verdicts import in_stack
from ..util.lifetime import worker_initializer
from .import_file import REPLACED_AFTER_IMPORT, read_import_entries
from .mocks import PlanMocks

SECRET = "[secret]"
STACK_TYPE = "pulumi:pulumi:Stack"


def _engine_urn(urn: str) -> str:
    """Return the URN as the engine writes it: the mock monitor puts the root stack's type into type chains."""
    return urn.replace(f"::{STACK_TYPE}$", "::")


@dataclass
class StackPlan:
    """What `pulumi up` would create for one stack."""

    stack: str
    tenant_id: str
    resources: list[dict[str, Any]] = field(default_factory=list)
    """Per resource: type, name, urn, parent (urn or None), id, the camelCase wire inputs, and `import` (the
    provider id `pulumi import` takes it over from) for an adopted object, with `replaceAfterImport` when the first
    `pulumi up` replaces it all the same."""
    invokes: list[dict[str, Any]] = field(default_factory=list)
    """The look-ups the program made: token, args, result; by token, then args (they run concurrently)."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """The stack outputs, with every secret shown as `[secret]`."""
    hooks: dict[str, list[str]] = field(default_factory=dict)
    """Resource hooks bound after create, by resource name (none in a preview: hooks fire only in `pulumi up`)."""
    deletes: list[dict[str, Any]] = field(default_factory=list)
    """Imported objects the program does not declare, which the first `pulumi up` deletes (adopt --revoke-excess):
    type, name, import (the provider id) and parent (the component's urn, or None)."""

    def to_json(self) -> dict[str, Any]:
        """Return the plan in the `--format json` shape."""
        return {
            "stack": self.stack,
            "tenantId": self.tenant_id,
            "resources": self.resources,
            "invokes": self.invokes,
            "outputs": self.outputs,
            **({"deletes": self.deletes} if self.deletes else {}),
        }


def _mask(value: Any) -> Any:
    """Replace every secret-wrapped value in deserialized wire data by `[secret]`."""
    if pulumi_sdk.is_secret(value):
        return SECRET
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


class _RecordingMonitor(pulumi_sdk.MockMonitor):
    """The SDK's mock monitor, also recording each registration's parent and wire inputs."""

    def __init__(self, mocks: PlanMocks) -> None:
        super().__init__(mocks)
        self.plan_mocks = mocks
        self.registrations: list[dict[str, Any]] = []
        self.hooks: dict[str, list[str]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the monitor's gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != STACK_TYPE:
            # Deserialized once already, for PlanMocks.new_resource; registrations arrive on several threads.
            inputs = self.plan_mocks.inputs[request.type, request.name]
            if request.HasField("hooks") and request.hooks.after_create:
                self.hooks[request.name] = list(request.hooks.after_create)
            parent = _engine_urn(request.parent) if request.parent else ""
            self.registrations.append(
                {
                    "type": request.type,
                    "name": request.name,
                    "urn": _engine_urn(response.urn),
                    "parent": None if parent.split("::")[2:3] == [STACK_TYPE] else parent,
                    "id": response.id or None,
                    "inputs": _mask(inputs),
                }
            )
        return response


async def _unwrap(value: Any) -> tuple[Any, bool]:
    """Return `value` with every output nested in its lists and dicts replaced by its value, and whether any was secret.

    What `Output.from_input(value).future()` returns, without lifting every nested value into an output of its own
    (a stack's outputs hold hundreds of values: that was over a quarter of the outputs a plan created).
    """
    if isinstance(value, pulumi.Output):
        inner, inner_secret = await _unwrap(await value.future())
        return inner, inner_secret or await value.is_secret()
    if isinstance(value, dict):
        items = [(k, await _unwrap(v)) for k, v in value.items()]
        return {k: v for k, (v, _) in items}, any(secret for _, (_, secret) in items)
    if isinstance(value, list | tuple):
        unwrapped = [await _unwrap(v) for v in value]
        return type(value)(v for v, _ in unwrapped), any(secret for _, secret in unwrapped)
    return value, False


async def _resolve_all(exported: dict[str, Any]) -> dict[str, Any]:
    """Return the stack outputs resolved, every secret one shown as `[secret]`."""
    resolved = {key: await _unwrap(value) for key, value in exported.items()}
    return {key: SECRET if secret else value for key, (value, secret) in resolved.items()}


def plan_stack(
    project_dir: Path, stack: LoadedStack, now: datetime, mocks: PlanMocks | None = None, *, preview: bool = True,
    with_imports: bool = True,
) -> StackPlan:
    """Run the project's `__main__.py` for `stack` on the mock monitor and return what it registered.

    `mocks` answers registrations and look-ups; the default answers them as every tenant would (PlanMocks).
    `preview=False` runs the program as `pulumi up` would (hooks bound, files written below the working directory).
    """
    mocks = mocks or PlanMocks(stack.name, now)
    pulumi_sdk.skip_source_positions()
    monitor = _RecordingMonitor(mocks)
    pulumi_sdk.new_root()  # a fresh Stack per plan
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack.name, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(stack.pulumi_config())
    program = str(require_program(project_dir))

    def run_program() -> None:
        runpy.run_path(program, run_name="__main__")

    sys.path.insert(0, str(project_dir))
    try:
        with fixed_clock(now), pulumi_sdk.monitor_threads():
            pulumi_sdk.run_program(run_program)
    finally:
        sys.path.remove(str(project_dir))
    outputs = pulumi_sdk.wait(_resolve_all(pulumi_sdk.root_outputs()))
    # Registration order depends on when outputs resolve, and look-ups run on the SDK's threads; sort so the same
    # stack always plans the same.
    resources = sorted(monitor.registrations,
                       key=lambda r: (r["parent"] or r["urn"], r["parent"] is not None, r["urn"]))
    invokes = sorted(mocks.invokes, key=lambda i: (i["token"], json.dumps(i["args"], sort_keys=True)))
    # adopt's `pulumi import --file` document, if any; adopt itself plans without the file it is about to replace.
    entries = read_import_entries(stack.path, stack.name) if with_imports else []
    imports = {(e["type"], e["name"]): e["id"] for e in entries}
    for resource in resources:
        if (resource["type"], resource["name"]) in imports:
            resource["import"] = imports[resource["type"], resource["name"]]
            if resource["type"] in REPLACED_AFTER_IMPORT:
                resource["replaceAfterImport"] = True
    registered = {(r["type"], r["name"]) for r in resources}
    components = {r["name"]: r["urn"] for r in resources if r["parent"] is None}
    deletes = [{"type": e["type"], "name": e["name"], "import": e["id"], "parent": components.get(e["parent"])}
               for e in entries if (e["type"], e["name"]) not in registered]
    return StackPlan(stack.name, stack.config.tenant_id, resources, invokes, outputs, monitor.hooks, deletes)


MIN_STACKS_PER_WORKER = 25
"""Below this many stacks per extra worker, starting a worker (about 1 s of imports) costs more than it saves."""
PROGRESS_CHUNKS_PER_WORKER = 10
"""Chunks handed to each worker in turn: progress advances ten times per worker instead of once."""


def _plan_chunk(project_dir: Path, stacks: Sequence[LoadedStack], now: datetime,
                on_done: Callable[[int], None] | None = None, with_imports: bool = True) -> list[StackPlan]:
    plans = []
    # One pool of monitor threads for the batch: made and joined per stack, it would cost a few ms each.
    try:
        with pulumi_sdk.monitor_threads():
            for stack in stacks:
                plans.append(plan_stack(project_dir, stack, now, with_imports=with_imports))
                if len(plans) == 1:
                    # What lives now (the SDK, the providers and the program, imported by the first run) lives on:
                    # the oldest generation's collections skip it, about a tenth of a fleet plan's time (decision
                    # 0180).
                    gc.freeze()
                if on_done is not None:
                    on_done(1)
    finally:
        gc.unfreeze()
    return plans


def plan_stacks(
    project_dir: Path, stacks: Sequence[LoadedStack], now: datetime, jobs: int | None = None,
    on_done: Callable[[int], None] | None = None, *, with_imports: bool = True,
) -> list[StackPlan]:
    """Plan every stack, in the given order; use up to `jobs` worker processes (default: one per core).

    `on_done(n)` is called as stacks finish (per stack, or per chunk of a worker), for progress.
    """
    workers = min(jobs or os.cpu_count() or 1, max(1, len(stacks) // MIN_STACKS_PER_WORKER))
    if workers <= 1:
        return _plan_chunk(project_dir, stacks, now, on_done, with_imports)
    # Small chunks, so progress moves as they finish; a pool's workers stay up across chunks.
    count = workers * PROGRESS_CHUNKS_PER_WORKER
    starts, chunks = zip(*((i, chunk) for i in range(count) if (chunk := stacks[i::count])), strict=True)
    # spawn, not fork: the parent may already hold gRPC and asyncio state that must not be copied into a child.
    import multiprocessing  # noqa: PLC0415 - only large fleets need it

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=worker_initializer, initargs=(os.getpid(),))
    results = []
    try:
        for chunk, planned in zip(chunks, pool.map(_plan_chunk, [project_dir] * len(chunks), chunks,
                                                   [now] * len(chunks), [None] * len(chunks),
                                                   [with_imports] * len(chunks)), strict=True):
            results.append(planned)
            if on_done is not None:
                on_done(len(chunk))
    except BaseException:
        # Ctrl-C, SIGTERM or a failed chunk: kill the workers now instead of waiting for their chunks.
        _quiet_cancelled_futures()
        _kill_pool(pool)
        raise
    pool.shutdown()
    # By position, not name: adopt plans one stack in parts that share its name.
    ordered: list[StackPlan | None] = [None] * len(stacks)
    for start, planned in zip(starts, results, strict=True):
        ordered[start::count] = planned
    return [plan for plan in ordered if plan is not None]


def _kill_pool(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's workers and let this process exit without waiting for the pool's call queue.

    The queue's feeder thread may be blocked writing a chunk into the pipe that only the killed workers read (the
    pipe holds 64 KiB, a chunk of a large fleet more). CPython 3.11's manager thread would close that pipe, but when
    it sees the killed workers before the shutdown it dies on the cancelled futures (see _quiet_cancelled_futures),
    and the queue's join at exit then waits forever. (The call queue is the executor's private attribute.)
    """
    call_queue = getattr(pool, "_call_queue", None)
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()
    if call_queue is not None:
        call_queue.cancel_join_thread()
    pool.shutdown(wait=False, cancel_futures=True)


_QUIET_MARK = "exo_oauth_quiet_cancelled_futures"
"""Marks the installed thread exception filter."""


def _quiet_cancelled_futures() -> None:
    """Keep the pool's teardown from printing a traceback on the way out.

    `map` cancels its pending futures as the exception passes; CPython 3.11's executor thread then marks them failed
    once the killed workers are noticed, and `InvalidStateError` on a cancelled future is printed from that thread.
    Installed once: a second failure in the same process finds the filter in place and does not chain another.
    """
    import threading  # noqa: PLC0415
    from concurrent.futures import InvalidStateError  # noqa: PLC0415

    previous = threading.excepthook
    if getattr(previous, _QUIET_MARK, False):
        return

    def hook(args: threading.ExceptHookArgs) -> None:
        if not isinstance(args.exc_value, InvalidStateError):
            previous(args)

    setattr(hook, _QUIET_MARK, True)
    threading.excepthook = hook


def plan_and_judge(
    project_dir: Path,
    stacks: Sequence[LoadedStack],
    now: datetime,
    jobs: int | None = None,
    policy: PolicyConfig | None = None,
    *,
    on_done: Callable[[int], None] | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Plan the stacks and run the policy rules (with `policy` settings, default the pack's) on each plan.

    Returns each plan's JSON shape with a `policy` list of verdicts, and whether any mandatory rule failed.
    """
    judged = []
    mandatory_failed = False
    for plan, stack in zip(plan_stacks(project_dir, stacks, now, jobs, on_done), stacks, strict=True):
        found = in_stack(evaluate(plan.resources, now, policy), plan.resources, stack.config, policy)
        verdicts = [v.to_json() for v in found]
        mandatory_failed = mandatory_failed or any(v["level"] == "mandatory" for v in verdicts)
        judged.append(plan.to_json() | {"policy": verdicts})
    return judged, mandatory_failed
