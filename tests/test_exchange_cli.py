import json
from pathlib import Path
from typing import Any

import pytest

from exo_domain.exchange_actions import ACTIONS, script_name
from exo_domain.exchange_module import MODULE_NAME, module_text
from exo_domain.exchange_scripts import OFFLINE_BANNER, render_exchange_scripts
from exo_domain.powershell import ps_literal
from exo_oauth.cli import main
from tests.exchange_factory import apps_output, example, standin
from tests.powershell_parse import nodes, parse, syntax_problems, text
from tests.stack_factory import PROJECT

FAKE_SECRET = "Zq8~fake.client-secret_value-42"


def saved_outputs(tmp_path: Path, stack: str = "contoso", **changes: Any) -> Path:
    """Write a stack's outputs as `pulumi stack output --json --show-secrets` would save them; return the file."""
    config, _ = example(stack)
    outputs = {"tenantId": config.tenant_id, "apps": apps_output(stack, config, real_ids=True),
               "clientSecrets": {"scanners": FAKE_SECRET}, **changes}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs), encoding="utf-8")
    return path


def run(*argv: str) -> int:
    """Run `exo-oauth exchange` against the repository's example stacks."""
    return main(["exchange", "--project-dir", str(PROJECT), *argv])


@pytest.mark.parametrize("action", ACTIONS)
def test_action_prints_exactly_that_script(tmp_path: Path, action: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--action prints the one script alone, as the renderer makes it from the saved outputs and the stack file."""
    assert run("--stack", "contoso", "--outputs", str(saved_outputs(tmp_path)), "--action", action) == 0
    assert capsys.readouterr().out == render_exchange_scripts(example("contoso", real_ids=True)[1])[action]


def test_default_prints_all_three_scripts_with_separators_and_no_secret(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --action, apply, verify and remove follow each other under a named separator; secrets stay out."""
    assert run("--stack", "contoso", "--outputs", str(saved_outputs(tmp_path))) == 0
    out = capsys.readouterr().out
    scripts = render_exchange_scripts(example("contoso", real_ids=True)[1])
    expected = "".join(f"# ===== {script_name(a)} (stack contoso) =====\n{scripts[a]}\n" for a in ACTIONS)
    assert out == expected
    assert FAKE_SECRET not in out


@pytest.mark.parametrize("chosen", [None, "verify"])
def test_out_writes_the_scripts_beside_the_module_and_prints_nothing(
        tmp_path: Path, chosen: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    """--out DIR writes the chosen scripts (all three by default) and ExoOAuth.psm1 into DIR, ready for pwsh -File."""
    action = () if chosen is None else ("--action", chosen)
    out = tmp_path / "new" / "folder"
    assert run("--stack", "contoso", "--outputs", str(saved_outputs(tmp_path)), "--out", str(out), *action) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(out) in captured.err
    scripts = render_exchange_scripts(example("contoso", real_ids=True)[1])
    wanted = ACTIONS if chosen is None else (chosen,)
    assert {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()} == {
        MODULE_NAME: module_text(), **{script_name(a): scripts[a] for a in wanted}}


def test_out_into_a_folder_that_cannot_be_written_exits_2_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file where the folder should be: one line naming --out, no traceback, nothing half written."""
    taken = tmp_path / "taken"
    taken.write_text("keep", encoding="utf-8")
    assert run("--stack", "contoso", "--outputs", str(saved_outputs(tmp_path)), "--out", str(taken / "sub")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"exo-oauth exchange: --out {taken / 'sub'}: cannot write there")
    assert len(err.strip().splitlines()) == 1
    assert taken.read_text(encoding="utf-8") == "keep"


def test_outputs_with_a_bad_id_exit_2_naming_file_and_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A non-GUID client id in the outputs file fails with one line naming the file and key path."""
    config, _ = example("contoso")
    apps = apps_output("contoso", config, real_ids=True)
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


def test_offline_renders_the_plans_scripts_with_a_banner_and_refuses_to_run(
        capsys: pytest.CaptureFixture[str]) -> None:
    """--offline needs no deploy: the plan's stand-in scripts, headed by the banner and a `throw` before sign-in."""
    assert run("--stack", "contoso", "--offline", "--action", "apply") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# {OFFLINE_BANNER}\n#Requires -Version 7.0\n")
    root = parse(out)
    assert syntax_problems(root) == []
    throw = next(n for n in nodes(root) if n.type == "flow_control_statement")
    assert text(throw) == f"throw {ps_literal(OFFLINE_BANNER)}"
    assert out.index(text(throw)) < out.index("Connect-ExoOAuth @signIn")
    body = out.replace(f"# {OFFLINE_BANNER}\n", "").replace(f"throw {ps_literal(OFFLINE_BANNER)}\n", "")
    assert body == render_exchange_scripts(example("contoso")[1])["apply"]


@pytest.mark.parametrize("key", ["clientId", "servicePrincipalObjectId", "applicationObjectId"])
def test_deployed_outputs_with_a_stand_in_id_are_refused(
        tmp_path: Path, key: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Outputs carrying an offline-plan stand-in (say, a saved plan) exit 2 naming the key, and print no script."""
    config, _ = example("contoso")
    apps = apps_output("contoso", config, real_ids=True)
    apps["helpdesk"][key] = standin("contoso", "helpdesk", key)
    path = saved_outputs(tmp_path, apps=apps)
    assert run("--stack", "contoso", "--outputs", str(path)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"exo-oauth exchange: --outputs {path}: apps.helpdesk.{key}: '00000000-")
    assert "is a stand-in ID of the offline plan, not a deployed object; allowed:" in captured.err


def test_outputs_that_no_longer_match_the_stack_file_are_named_in_one_line_before_rendering(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An app renamed, added or removed, or a mailbox added since the deploy, is said on one stderr line."""
    config, _ = example("contoso")
    apps = apps_output("contoso", config, real_ids=True)
    apps["old-printers"] = apps.pop("helpdesk") | {"name": "old-printers"}
    apps["scanners"]["mailboxes"] = apps["scanners"]["mailboxes"][:1]
    assert run("--stack", "contoso", "--outputs", str(saved_outputs(tmp_path, apps=apps))) == 0
    captured = capsys.readouterr()
    assert captured.err == ("exo-oauth exchange: note: the deployed outputs differ from stacks/Pulumi.contoso.yaml "
                            "(app 'helpdesk' not deployed yet; app 'old-printers' no longer in the stack file; "
                            "app 'scanners': mailboxes changed); these scripts follow what is deployed: run pulumi "
                            "up first to apply the stack file\n")
    assert "-App 'old-printers'" in captured.out


def test_outputs_that_match_the_stack_file_print_no_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No difference, no note: stderr stays empty."""
    assert run("--stack", "contoso", "--outputs", str(saved_outputs(tmp_path))) == 0
    assert capsys.readouterr().err == ""


def test_offline_and_outputs_exclude_each_other(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A saved outputs file and --offline are two different sources: asking for both exits 2."""
    with pytest.raises(SystemExit) as raised:
        run("--stack", "contoso", "--offline", "--outputs", str(saved_outputs(tmp_path)))
    assert raised.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
