"""Stack outputs as the offline plan reads them, and the program's join of every app's summary."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pulumi

from components.first_party import lookup_first_party_apis
from components.mail_app import MailOAuthApp, all_summaries
from components.pulumi_config import app_args
from exo_oauth.plan.mocks import PlanMocks
from exo_oauth.plan.offline import SECRET, _resolve_all
from tests.stack_factory import app, loaded, raw_config

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def on_mock_runtime(check: Callable[[], Awaitable[None]]) -> None:
    """Run `check` inside a program on the plan's mock monitor, after every registration it started."""
    pulumi.runtime.set_mocks(PlanMocks("t", NOW), project="exo-oauth", stack="t", preview=True)
    pulumi.runtime.test(lambda: pulumi.Output.from_input(check()))()


def test_resolved_outputs_are_from_inputs_values_with_each_secret_output_masked() -> None:
    """Nested outputs resolve as Output.from_input resolves them; a secret anywhere masks its whole top-level output.

    As `pulumi stack output` without --show-secrets shows a secret output.
    """
    resolved: list[tuple[dict[str, Any], dict[str, Any]]] = []

    async def check() -> None:
        out = pulumi.Output.from_input
        exported = {
            "plain": "text",
            "nested": {"list": [1, out({"deep": out(2)}), None], "pair": (out("a"), "b"), "empty": {}},
            "output": out({"apps": {"a": out([out("x")])}}),
            "secret": pulumi.Output.secret("s"),
            "secretInside": {"visible": 1, "hidden": [pulumi.Output.secret("v")]},
        }
        expected = {}
        for key, value in exported.items():
            whole = out(value)
            expected[key] = SECRET if await whole.is_secret() else await whole.future()
        resolved.append((await _resolve_all(exported), expected))

    on_mock_runtime(check)
    [(got, expected)] = resolved
    assert got == expected
    assert got["nested"] == {"list": [1, {"deep": 2}, None], "pair": ("a", "b"), "empty": {}}
    assert got["secret"] == got["secretInside"] == SECRET


def test_all_summaries_joins_each_apps_summary_as_output_all_does() -> None:
    """The `apps` summaries joined by name have Output.all's value, order, dependencies and secrecy."""
    joined: list[tuple[Any, ...]] = []
    stack = loaded(raw_config(app(name="first"), app("delegated", name="second"), app(name="third")))

    async def check() -> None:
        apis = lookup_first_party_apis(["Office365ExchangeOnline", "MicrosoftGraph"])
        apps = {a.name: MailOAuthApp(a.name, app_args(a, stack.config), first_party=apis) for a in stack.config.apps}
        for output in (all_summaries(apps), pulumi.Output.all(**{n: c.summary for n, c in apps.items()})):
            joined.append((await output.future(), await output.resources(), await output.is_secret(),
                           await output.is_known()))

    on_mock_runtime(check)
    [ours, sdks] = joined
    assert ours == sdks
    value, resources, secret, known = ours
    assert list(value) == ["first", "second", "third"]
    assert value["second"]["flow"] == "delegated"
    assert resources
    assert not secret
    assert known
