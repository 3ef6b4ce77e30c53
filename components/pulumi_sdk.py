"""The Pulumi SDK internals this project relies on, in one place, for the SDK versions pyproject.toml allows.

The offline plan runs the program on the SDK's mock monitor without an engine, and the program reads its whole
stack config: the SDK has no public API for either. INTERNALS names each internal used here; tests/test_pulumi_sdk.py
checks each one by that name, so an SDK upgrade that breaks one fails a test naming the internal that broke
(decision 0170).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pulumi.runtime import config as sdk_config
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc, settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

T = TypeVar("T")

INTERNALS = (
    "pulumi.runtime.sync_await._sync_await",
    "pulumi.runtime.stack.run_pulumi_func",
    "pulumi.runtime.resource._get_stack_trace",
    "pulumi.runtime.settings.set_root_resource",
    "pulumi.runtime.settings.get_root_resource",
    "pulumi.runtime.rpc.is_rpc_secret",
    "pulumi.runtime.mocks.MockMonitor",
    "pulumi.runtime.config.CONFIG",
    "pulumi.runtime.config.get_config_env",
)
"""Every SDK name used below that is not part of the SDK's documented API."""

__all__ = ["INTERNALS", "MockMonitor", "config_keys", "is_secret", "new_root", "root_outputs", "run_program",
           "skip_source_positions", "wait"]


def wait(awaitable: Awaitable[T]) -> T:
    """Run `awaitable` to completion on the SDK's event loop and return its result."""
    return _sync_await(awaitable)


def run_program(program: Callable[[], None]) -> None:
    """Run a Pulumi program as `pulumi up` would: inside a Stack, waiting for every registration it started."""
    wait(run_pulumi_func(program))


def new_root() -> None:
    """Forget the previous program's Stack resource, so the next program run registers a fresh one."""
    settings.set_root_resource(None)  # type: ignore[arg-type]


def root_outputs() -> dict[str, Any]:
    """Return the outputs the last program run exported (pulumi.export), as unresolved values."""
    outputs: dict[str, Any] = getattr(settings.get_root_resource(), "outputs", {})
    return outputs


def is_secret(value: Any) -> bool:
    """Return True if `value`, deserialized from the wire, is a secret-wrapped value."""
    return rpc.is_rpc_secret(value)


def skip_source_positions() -> None:
    """Stop the SDK from walking the Python stack at every registration in this process.

    The SDK records where each resource was declared, for the engine's error messages. The mock monitor ignores it,
    and walking the stack is about a tenth of a fleet plan's time.
    """
    sdk_resource._get_stack_trace = source_pb2.StackTrace


def config_keys() -> set[str]:
    """Return every config key the running stack has, including those passed in the environment."""
    return set(sdk_config.CONFIG.get()) | set(sdk_config.get_config_env())
