"""Canary: each Pulumi SDK internal that components/pulumi_sdk.py relies on still exists and still does its job.

The test id names the internal (e.g. `test_the_sdk_still_provides[pulumi.runtime.sync_await._sync_await]`), so an
SDK upgrade that breaks one says which. Checked against the installed SDK, the one pyproject.toml pins
(pulumi 3.272.x, decision 0170).
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.proto import source_pb2

from components import pulumi_sdk
from tests.stack_factory import REPO

THING = "test:index:Thing"


class _Mocks(pulumi.runtime.Mocks):
    """Answers every registration with the inputs as state, and keeps the inputs it was given."""

    def __init__(self) -> None:
        self.inputs: dict[str, dict[str, Any]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.inputs[args.name] = args.inputs
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        return {}


class _Monitor(pulumi_sdk.MockMonitor):
    """The SDK's mock monitor, also keeping the type and name of each registration, as the offline plan does."""

    def __init__(self, mocks: _Mocks) -> None:
        super().__init__(mocks)
        self.registered: list[tuple[str, str]] = []
        self.threads: list[tuple[str, asyncio.AbstractEventLoop]] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the monitor's gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self.registered.append((request.type, request.name))
        if request.type == THING:  # the SDK makes a thread's loop for a resource, not for the Stack
            self.threads.append((threading.current_thread().name, asyncio.get_event_loop()))
        return response


@pytest.fixture
def mocks() -> Iterator[tuple[_Mocks, _Monitor]]:
    """Install fresh mocks and a recording monitor, as plan_stack does, for one program run."""
    fake = _Mocks()
    monitor = _Monitor(fake)
    pulumi_sdk.new_root()
    pulumi.runtime.set_mocks(fake, project="canary", stack="canary", preview=False, monitor=monitor)
    yield fake, monitor
    pulumi_sdk.new_root()


def _program() -> None:
    pulumi.CustomResource(THING, "thing", {"value": pulumi.Output.secret("s3cret"), "plain": "p"})
    pulumi.export("answer", 42)


def _sync_await(_: Any) -> None:
    async def answer() -> int:
        return 42

    assert pulumi_sdk.wait(answer()) == 42


def _ensure_event_loop(fixture: tuple[_Mocks, _Monitor]) -> None:
    _, monitor = fixture
    with pulumi_sdk.monitor_threads():
        pulumi_sdk.run_program(_program)
    # The monitor ran on the default executor of the loop the SDK runs programs on, with the loop its thread was given.
    assert monitor.threads, "the program registered nothing"
    assert all(name.startswith("pulumi-monitor") for name, _ in monitor.threads), monitor.threads
    assert all(loop.is_closed() for _, loop in monitor.threads)


def _run_pulumi_func(fixture: tuple[_Mocks, _Monitor]) -> None:
    fake, _ = fixture
    pulumi_sdk.run_program(_program)
    assert "thing" in fake.inputs, "the program's registration was not waited for"


def _get_stack_trace(monkeypatch: pytest.MonkeyPatch, fixture: tuple[_Mocks, _Monitor]) -> None:
    # Read from the SDK's source: an earlier plan in this process may have replaced the attribute already.
    source = ast.parse(Path(inspect.getfile(sdk_resource)).read_text(encoding="utf-8"))
    defined = [node for node in source.body if isinstance(node, ast.FunctionDef) and node.name == "_get_stack_trace"]
    assert defined, "pulumi.runtime.resource no longer defines _get_stack_trace"
    assert not defined[0].args.args, "pulumi.runtime.resource._get_stack_trace now takes arguments"
    calls = []

    def counted() -> source_pb2.StackTrace:
        calls.append(1)
        return source_pb2.StackTrace()

    # Replacing the module attribute is what skip_source_positions does: the SDK must still look it up there.
    monkeypatch.setattr(sdk_resource, "_get_stack_trace", counted)
    pulumi_sdk.run_program(_program)
    assert calls, "registration no longer calls pulumi.runtime.resource._get_stack_trace"


def _get_root_resource(fixture: tuple[_Mocks, _Monitor]) -> None:
    pulumi_sdk.run_program(_program)
    assert pulumi_sdk.wait(pulumi.Output.from_input(pulumi_sdk.root_outputs()["answer"]).future()) == 42


def _set_root_resource(fixture: tuple[_Mocks, _Monitor]) -> None:
    pulumi_sdk.run_program(_program)
    pulumi_sdk.new_root()
    assert pulumi_sdk.root_outputs() == {}


def _is_rpc_secret(fixture: tuple[_Mocks, _Monitor]) -> None:
    fake, _ = fixture
    pulumi_sdk.run_program(_program)
    assert pulumi_sdk.is_secret(fake.inputs["thing"]["value"])
    assert not pulumi_sdk.is_secret(fake.inputs["thing"]["plain"])


def _mock_monitor(fixture: tuple[_Mocks, _Monitor]) -> None:
    _, monitor = fixture
    pulumi_sdk.run_program(_program)
    assert (THING, "thing") in monitor.registered


def _config(monkeypatch: pytest.MonkeyPatch, fixture: tuple[_Mocks, _Monitor]) -> None:
    monkeypatch.setenv("PULUMI_CONFIG", '{"canary:fromEnv": "e"}')
    pulumi.runtime.set_all_config({"canary:fromStack": "s"})
    keys = pulumi_sdk.config_keys()
    assert {"canary:fromEnv", "canary:fromStack"} <= keys
    pulumi.runtime.set_all_config({})


CHECKS: dict[str, Callable[..., None]] = {
    "pulumi.runtime.sync_await._sync_await": _sync_await,
    "pulumi.runtime.sync_await._ensure_event_loop": _ensure_event_loop,
    "pulumi.runtime.stack.run_pulumi_func": _run_pulumi_func,
    "pulumi.runtime.resource._get_stack_trace": _get_stack_trace,
    "pulumi.runtime.settings.set_root_resource": _set_root_resource,
    "pulumi.runtime.settings.get_root_resource": _get_root_resource,
    "pulumi.runtime.rpc.is_rpc_secret": _is_rpc_secret,
    "pulumi.runtime.mocks.MockMonitor": _mock_monitor,
    "pulumi.runtime.config.CONFIG": _config,
    "pulumi.runtime.config.get_config_env": _config,
}
"""One behaviour check per internal the adapter names."""


def test_every_internal_the_adapter_names_has_a_canary() -> None:
    """A new internal in components/pulumi_sdk.py needs its own check here."""
    assert set(CHECKS) == set(pulumi_sdk.INTERNALS)


@pytest.mark.parametrize("internal", pulumi_sdk.INTERNALS)
def test_the_sdk_still_provides(internal: str, monkeypatch: pytest.MonkeyPatch,
                                mocks: tuple[_Mocks, _Monitor]) -> None:
    """The internal exists where the adapter imports it from, and still behaves as the adapter relies on."""
    module, _, name = internal.rpartition(".")
    assert hasattr(importlib.import_module(module), name), f"the Pulumi SDK no longer has {internal}"
    check = CHECKS[internal]
    wanted = inspect.signature(check).parameters
    check(*[{"monkeypatch": monkeypatch, "fixture": mocks, "_": None}[p] for p in wanted])


def _sdk_submodule_imports(path: Path) -> list[str]:
    """Return the `pulumi.runtime.*` and `pulumi.*` submodules that `path` imports (not `pulumi` itself)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pulumi."):
            found.append(node.module or "")
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("pulumi.")]
    return found


def test_only_the_adapter_reaches_into_the_sdk_runtime() -> None:
    """Outside components/pulumi_sdk.py, the program and the CLI use `pulumi` and its public names only."""
    offenders = {
        str(path.relative_to(REPO)): imports
        for package in ("exo_domain", "components", "exo_oauth")
        for path in sorted((REPO / package).rglob("*.py"))
        if path.name != "pulumi_sdk.py" and (imports := _sdk_submodule_imports(path))
    }
    assert offenders == {}
