import json
from pathlib import Path
from typing import Any

import pytest

from components.exchange_actions import ACTIONS, script_name
from components.exchange_scripts import render_exchange_scripts
from exo_oauth.cli import main
from tests.exchange_factory import apps_output, example
from tests.stack_factory import REPO

FAKE_SECRET = "Zq8~fake.client-secret_value-42"


def saved_outputs(tmp_path: Path, stack: str = "contoso", **changes: Any) -> Path:
    """Write a stack's outputs as `pulumi stack output --json --show-secrets` would save them; return the file."""
    config, _ = example(stack)
    outputs = {"tenantId": config.tenant_id, "apps": apps_output(stack, config),
               "clientSecrets": {"scanners": FAKE_SECRET}, **changes}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs), encoding="utf-8")
    return path


def run(*argv: str) -> int:
    """Run `exo-oauth exchange` against the repository's example stacks."""
    return main(["exchange", "--project-dir", str(REPO), *argv])


@pytest.mark.parametrize("action", ACTIONS)
def test_action_prints_exactly_that_script(tmp_path: Path, action: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--action prints the one script alone, as the renderer makes it from the saved outputs and the stack file."""
    assert run("--stack", "contoso", "--outputs", str(saved_outputs(tmp_path)), "--action", action) == 0
    assert capsys.readouterr().out == render_exchange_scripts(example("contoso")[1])[action]


def test_default_prints_all_three_scripts_with_separators_and_no_secret(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --action, apply, verify and remove follow each other under a named separator; secrets stay out."""
    assert run("--stack", "contoso", "--outputs", str(saved_outputs(tmp_path))) == 0
    out = capsys.readouterr().out
    scripts = render_exchange_scripts(example("contoso")[1])
    expected = "".join(f"# ===== {script_name(a)} (stack contoso) =====\n{scripts[a]}\n" for a in ACTIONS)
    assert out == expected
    assert FAKE_SECRET not in out


def test_outputs_with_a_bad_id_exit_2_naming_file_and_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A non-GUID client id in the outputs file fails with one line naming the file and key path."""
    config, _ = example("contoso")
    apps = apps_output("contoso", config)
    apps["scanners"]["clientId"] = "scanners"
    path = saved_outputs(tmp_path, apps=apps)
    assert run("--stack", "contoso", "--outputs", str(path)) == 2
    err = capsys.readouterr().err
    assert err == (f"exo-oauth exchange: --outputs {path}: apps.scanners.clientId: 'scanners' is not a GUID; "
                   "allowed: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex digits)\n")


def test_outputs_of_another_tenant_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Outputs whose tenantId differs from the stack file's tenant exit 2 instead of rendering scripts."""
    path = saved_outputs(tmp_path, "fabrikam")
    assert run("--stack", "contoso", "--outputs", str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"exo-oauth exchange: --outputs {path}: tenantId '9b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b' "
                          "is not the tenant of stacks/Pulumi.contoso.yaml")
    assert "Traceback" not in err


def test_unknown_stack_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A stack without a stack file fails with exit 2 and lists the stacks there are."""
    assert run("--stack", "nowhere", "--outputs", str(saved_outputs(tmp_path))) == 2
    assert "--stack 'nowhere': no file stacks/Pulumi.nowhere.yaml" in capsys.readouterr().err
