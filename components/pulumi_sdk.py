"""The Pulumi SDK internals this project relies on, in one place, for the SDK versions pyproject.toml allows.

The offline plan runs the program on the SDK's mock monitor without an engine, and the program reads its whole
stack config: the SDK has no public API for either. INTERNALS names each internal used here; tests/test_pulumi_sdk.py
checks each one by that name, so an SDK upgrade that breaks one fails a test naming the internal that broke
(decision 0170).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from pulumi.runtime import config as sdk_config
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc, settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

T = TypeVar("T")

INTERNALS = (
    "pulumi.runtime.sync_await._sync_await",
    "pulumi.runtime.sync_await._ensure_event_loop",
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

__all__ = ["INTERNALS", "MockMonitor", "config_keys", "is_secret", "monitor_threads", "new_root", "root_outputs",
           "run_program", "skip_source_positions", "wait"]


def wait(awaitable: Awaitable[T]) -> T:
    """Run `awaitable` to completion on the SDK's event loop and return its result."""
    return _sync_await(awaitable)


_MONITOR_THREADS: list[ThreadPoolExecutor] = []
"""The pool of the active `monitor_threads` block, if any."""


@contextmanager
def monitor_threads() -> Iterator[None]:
    """Run the monitor calls of the programs run inside on threads whose event loops are closed on the way out.

    The SDK makes each monitor call on its event loop's default executor, and the mock monitor runs an event loop on
    that thread, made when first needed and never closed. Such a loop, left for the collector at interpreter exit,
    may be finalized after its own sockets and print `Exception ignored in: BaseEventLoop.__del__`. Here each thread
    gets its loop when it starts; the threads are joined and their loops closed when the block ends. Inside another
    block (a batch of stacks), the outer block's threads serve (decision 0181).
    """
    if _MONITOR_THREADS:
        yield
        return
    loops: list[asyncio.AbstractEventLoop] = []

    def start_thread() -> None:
        loops.append(asyncio.new_event_loop())
        asyncio.set_event_loop(loops[-1])

    executor = ThreadPoolExecutor(thread_name_prefix="pulumi-monitor", initializer=start_thread)
    program_loop: asyncio.AbstractEventLoop = _ensure_event_loop()  # type: ignore[no-untyped-call]
    program_loop.set_default_executor(executor)
    _MONITOR_THREADS.append(executor)
    try:
        yield
    finally:
        _MONITOR_THREADS.clear()
        # Calls after the block get a pool of their own, as the loop would make one.
        program_loop.set_default_executor(ThreadPoolExecutor())
        executor.shutdown(wait=True)
        for loop in loops:
            loop.close()


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
