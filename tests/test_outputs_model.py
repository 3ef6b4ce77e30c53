"""The stack outputs model: the program exports exactly it, and readers refuse a bad or old outputs file in one line."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from exo_domain.errors import ConfigError
from exo_domain.outputs import AppOutputs, StackOutputs, wire_key
from exo_oauth.cli import main
from exo_oauth.fleet.project import load_stack
from exo_oauth.plan.offline import plan_stack
from tests.outputs_factory import planned_outputs, real_looking
from tests.stack_factory import PROJECT, REPO, loaded, project, raw_config
from tests.stack_factory import app as app_entry


def planned(stack: str) -> dict[str, Any]:
    """Return the outputs the real program exports for an example stack, planned offline."""
    outputs: dict[str, Any] = plan_stack(REPO, load_stack(PROJECT, stack), datetime.now(UTC)).outputs
    return outputs


@pytest.mark.parametrize("stack", ["contoso", "fabrikam"])
def test_program_exports_exactly_the_model_and_it_reads_back_unchanged(stack: str) -> None:
    """Every app output has the model's keys, and from_wire then to_wire gives the same JSON back."""
    outputs = planned(stack)
    model = StackOutputs.from_wire(json.loads(json.dumps(outputs)), "plan")
    for name, wire in outputs["apps"].items():
        assert set(wire) == {wire_key(f.name) for f in fields(AppOutputs)}
        assert model.apps[name].to_wire() == wire


def test_an_old_outputs_file_fails_naming_the_key_and_the_fix() -> None:
    """An outputs file written before a key existed is refused with the key path and how to refresh it."""
    outputs = planned("contoso")
    app = next(iter(outputs["apps"]))
    del outputs["apps"][app]["endpoints"]
    with pytest.raises(ConfigError) as raised:
        StackOutputs.from_wire(outputs, "--outputs old.json")
    assert raised.value.key_path == f"apps.{app}.endpoints"
    assert "missing; allowed: the outputs of this exo-oauth version: run `pulumi up`" in str(raised.value)


@pytest.mark.parametrize(("change", "key_path"), [
    ({"tenantId": "contoso"}, "tenantId"),
    ({"apps": []}, "apps"),
    ({"clientSecrets": {"scanners": 42}}, "clientSecrets"),
])
def test_bad_top_level_outputs_name_the_key(change: dict[str, Any], key_path: str) -> None:
    """A non-GUID tenant, apps that are not a mapping, or a non-string secret are refused naming the key."""
    with pytest.raises(ConfigError) as raised:
        StackOutputs.from_wire(planned("contoso") | change, "x.json")
    assert raised.value.key_path == key_path
    assert "42" not in str(raised.value)


def test_cli_refuses_an_old_outputs_file_with_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`exo-oauth exchange --outputs` on an old file exits 2 with one stderr line, and prints no script."""
    outputs = planned("contoso")
    for app in outputs["apps"].values():
        del app["adminConsentUrl"]
    saved = tmp_path / "old.json"
    saved.write_text(json.dumps(outputs), encoding="utf-8")
    assert main(["exchange", "--project-dir", str(PROJECT), "--stack", "contoso", "--outputs", str(saved)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "adminConsentUrl: missing" in captured.err


LONGEST_REDIRECT = "https://r.example/" + "\U0001f4e8" * (256 - len("https://r.example/"))
"""The longest redirect URI a stack file accepts (256 characters), each character percent-encoded to 12."""


@pytest.mark.parametrize(("cloud", "redirect", "at_least"), [
    ("global", "https://helpdesk-mail.contoso.com/oauth2/callback/desktop", 257),
    ("china", LONGEST_REDIRECT, 3000),
], ids=["imap-smtp-delegated", "longest-redirect-uri"])
def test_exchange_reads_back_the_longest_outputs_the_program_writes(
        tmp_path: Path, cloud: str, redirect: str, at_least: int, capsys: pytest.CaptureFixture[str]) -> None:
    """`exo-oauth exchange --outputs` accepts the program's own outputs with its longest values.

    A delegated app.s consent URL over 256 characters (271 with imap+smtp in the issue) was refused once.
    """
    delegated = app_entry("delegated", ("imap", "smtp"), name="d" * 40, displayName="D" * 120, redirectUris=[redirect])
    raw = raw_config(delegated, **{"exo-oauth:cloud": cloud, "azuread:environment": cloud})
    outputs = real_looking(planned_outputs(loaded(raw)))
    assert len(outputs["apps"]["d" * 40]["adminConsentUrl"]) >= at_least
    saved = tmp_path / "outputs.json"
    saved.write_text(json.dumps(outputs), encoding="utf-8")
    (tmp_path / "project").mkdir()
    project_dir = project(tmp_path / "project", test=raw)
    assert main(["exchange", "--project-dir", str(project_dir), "--stack", "test", "--outputs", str(saved),
                 "--action", "verify"]) == 0
    assert capsys.readouterr().err == ""


def test_the_program_exports_exactly_the_models_top_level_keys() -> None:
    """`__main__.py` exports through StackOutputs.exports: the keys are the model's, and it reads them back."""
    outputs = planned("contoso")
    assert set(outputs) == {wire_key(f.name) for f in fields(StackOutputs)}
    model = StackOutputs.from_wire(json.loads(json.dumps(outputs)), "plan")
    assert set(model.exchange) == {"apply", "verify", "remove"}
