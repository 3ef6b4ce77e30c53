"""Runners: one PowerShell process runs one action's script of several stacks, and records how each ended."""

import json
import re
import shutil
from pathlib import Path

import pytest

from exo_domain.exchange_actions import ACTIONS, result_name, runner_name, script_name
from exo_domain.exchange_module import MODULE_NAME
from exo_domain.exchange_runner import PASSED_ON, RESULT_FIELDS, VERIFY_PASSED_ON, render_runner, split_stacks
from exo_domain.exchange_scripts import render_exchange_scripts
from exo_oauth.cli import main
from tests.exchange_factory import example
from tests.generated import check_generated
from tests.powershell_parse import calls, nodes, parse, single_literal, syntax_problems, text
from tests.stack_factory import PROJECT, REPO

GOLDEN = REPO / "tests" / "golden" / "exchange" / runner_name(1, "verify")


def param_names(script: str) -> set[str]:
    """Return the names declared in a script's top-level param() block."""
    block = next(n for n in parse(script).children if n.type == "param_block")
    return {text(n).lstrip("$") for n in nodes(block) if n.type == "variable"}


def test_the_verify_runner_of_two_stacks_matches_its_golden_file() -> None:
    """The runner text is reviewed like the scripts: `EXO_OAUTH_UPDATE_GOLDEN=1` rewrites it."""
    rendered = render_runner("verify", ["contoso", "fabrikam"])

    def write() -> None:
        GOLDEN.write_text(rendered, encoding="utf-8", newline="\n")

    check_generated(GOLDEN.read_text(encoding="utf-8") if GOLDEN.exists() else "", rendered, write,
                    "EXO_OAUTH_UPDATE_GOLDEN")


@pytest.mark.parametrize("action", ACTIONS)
def test_runner_runs_each_stacks_script_in_turn_and_records_its_status(action: str) -> None:
    """The stacks are one literal list; each script gets the runner's bound parameters and its status is recorded.

    $LASTEXITCODE is reset before each script and read after it; a throw is caught, so the next stack still runs.
    """
    runner = render_runner(action, ["contoso", "fabrikam", "tenant.with-dots_1"])
    root = parse(runner)
    assert syntax_problems(root) == []
    loop = next(n for n in nodes(root) if n.type == "foreach_statement")
    listed = [single_literal([n]) for n in nodes(loop) if n.type == "string_literal" and text(n).startswith("'")]
    assert listed[:3] == ["contoso", "fabrikam", "tenant.with-dots_1"]
    names = {single_literal(c.arguments["ChildPath"]) for c in calls(root) if "ChildPath" in c.arguments
             and text(c.arguments["ChildPath"][0]).startswith("'")}
    assert names == {script_name(action), result_name(action)}
    body = text(loop)
    assert body.index("Remove-Item -LiteralPath $result") < body.index("$global:LASTEXITCODE = 0") < body.index(
        "& $path @PSBoundParameters *>&1") < body.index("$status = $LASTEXITCODE")
    assert "catch {" in body
    assert not re.search(r"^\s*exit\b", runner, re.MULTILINE)


def test_runner_results_carry_exactly_the_fields_drift_reads() -> None:
    """The ordered hashtable written per stack has the keys exo-oauth drift --exchange-results reads, in order."""
    runner = render_runner("verify", ["contoso"])
    table = re.search(r"\[ordered\]@\{ (.*) \} \|", runner)
    assert table is not None
    assert tuple(part.split(" = ")[0] for part in table.group(1).split("; ")) == RESULT_FIELDS


@pytest.mark.parametrize("action", ACTIONS)
def test_every_parameter_a_runner_hands_on_is_one_its_stack_script_declares(action: str) -> None:
    """Splatting @PSBoundParameters fails on an unknown name, so the runner takes only what every script takes."""
    runner = param_names(render_runner(action, ["contoso"]))
    script = param_names(render_exchange_scripts(example("contoso")[1])[action])
    assert runner == set(PASSED_ON) | (set(VERIFY_PASSED_ON) if action == "verify" else set())
    assert runner <= script


def test_stacks_are_dealt_over_the_runners_in_turn_and_no_runner_is_empty() -> None:
    """Each stack lands in exactly one runner; asking for more runners than stacks gives one per stack."""
    assert split_stacks(["a", "b", "c", "d", "e"], 2) == [["a", "c", "e"], ["b", "d"]]
    assert split_stacks(["a", "b"], 4) == [["a"], ["b"]]
    assert split_stacks(["a", "b"], 1) == [["a", "b"]]


@pytest.mark.parametrize("names", [[], ["ok", "bad name"], ["x'; Remove-Item /"]])
def test_a_runner_refuses_what_is_not_a_stack_name(names: list[str]) -> None:
    """Stack names come from checked file names; the renderer still refuses anything else, and an empty list."""
    with pytest.raises(ValueError, match="not stack names"):
        render_runner("verify", names)


def test_several_stacks_are_written_each_in_its_folder_with_the_runners_beside(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`exchange --stack A --stack B --action verify --out DIR --runners 2` writes DIR/A/, DIR/B/ and two runners."""
    out = tmp_path / "exchange"
    assert main(["exchange", "--project-dir", str(PROJECT), "--stack", "contoso", "--stack", "fabrikam",
                 "--action", "verify", "--offline", "--out", str(out), "--runners", "2"]) == 0
    assert sorted(p.name for p in (out / "contoso").iterdir()) == sorted([MODULE_NAME, script_name("verify")])
    assert (out / "fabrikam" / script_name("verify")).read_text(encoding="utf-8") == render_exchange_scripts(
        example("fabrikam")[1], offline=True)["verify"]
    assert (out / runner_name(1, "verify")).read_text(encoding="utf-8") == render_runner("verify", ["contoso"])
    assert (out / runner_name(2, "verify")).read_text(encoding="utf-8") == render_runner("verify", ["fabrikam"])
    assert not (out / MODULE_NAME).exists()
    assert "2 runner(s)" in capsys.readouterr().err


def test_results_and_runners_of_an_earlier_run_are_removed_before_the_new_ones_are_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A reused folder cannot pass yesterday's clean result off as today's, nor run a runner this run did not write."""
    out = tmp_path / "exchange"
    (out / "contoso").mkdir(parents=True)
    old_result = out / "contoso" / result_name("verify")
    old_result.write_text('{"stack": "contoso", "status": 0, "lastLine": "No drift."}', encoding="utf-8")
    (out / runner_name(3, "verify")).write_text("# from a run with three runners\n", encoding="utf-8")
    assert main(["exchange", "--project-dir", str(PROJECT), "--stack", "contoso", "--runners", "1",
                 "--action", "verify", "--offline", "--out", str(out)]) == 0
    assert not old_result.exists()
    assert sorted(p.name for p in out.glob(runner_name("*", "verify"))) == [runner_name(1, "verify")]


def test_a_stack_that_cannot_be_rendered_is_left_out_and_the_others_are_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One broken stack file does not cost the batch its Exchange checks: it is named, skipped, and the exit is 4."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT / "stacks", project / "stacks")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, project / name)
    (project / "stacks" / "Pulumi.broken.yaml").write_text("config:\n  exo-oauth:apps: 7\n", encoding="utf-8")
    out = tmp_path / "exchange"
    assert main(["exchange", "--project-dir", str(project), "--stack", "broken", "--stack", "contoso",
                 "--action", "verify", "--offline", "--out", str(out)]) == 4
    assert "exo-oauth exchange: stack broken left out: " in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["contoso", runner_name(1, "verify")]
    assert (out / runner_name(1, "verify")).read_text(encoding="utf-8") == render_runner("verify", ["contoso"])


@pytest.mark.parametrize("extra", [["--action", "verify"], ["--out", "x"], ["--out", "x", "--action", "verify",
                                                                           "--outputs", "o.json"]])
def test_several_stacks_need_out_and_action_and_no_outputs_file(
        extra: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Several stacks only make sense written into folders, one action, each stack's own outputs: one line, exit 2."""
    assert main(["exchange", "--project-dir", str(PROJECT), "--stack", "contoso", "--stack", "fabrikam",
                 *extra]) == 2
    assert "--stack more than once, or --runners: allowed: with --out DIR and --action" in capsys.readouterr().err


def write_result(folder: Path, stack: str, document: object) -> None:
    """Write what a runner records for `stack` after its verify script."""
    (folder / stack).mkdir(parents=True, exist_ok=True)
    (folder / stack / result_name("verify")).write_text(json.dumps(document), encoding="utf-8")


@pytest.mark.parametrize(("document", "status", "detail"), [
    ({"stack": "contoso", "status": 0, "lastLine": "No drift."}, "clean", "every Exchange item"),
    ({"stack": "contoso", "status": 5, "lastLine": "  - SendAs missing"}, "drift", "found drift:   - SendAs missing"),
    ({"stack": "contoso", "status": 1, "lastLine": "sign-in failed"}, "not run", "failed (1): sign-in failed"),
    ({"stack": "fabrikam", "status": 0, "lastLine": ""}, "not run", "not this stack's stack, status, lastLine"),
    ({"stack": "contoso", "status": True, "lastLine": ""}, "not run", "not this stack's"),
    (["not", "an", "object"], "not run", "not this stack's"),
])
def test_drift_reads_the_runner_result_of_its_stack_instead_of_running_pwsh(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], document: object, status: str, detail: str) -> None:
    """--exchange-results DIR: DIR/<stack>/exchange-verify.result.json decides the exchange check; no pwsh runs."""
    write_result(tmp_path, "contoso", document)
    main(["drift", "--project-dir", str(PROJECT), "--stack", "contoso", "--checks", "exchange", "--format", "json",
          "--exchange-results", str(tmp_path)])
    [check] = json.loads(capsys.readouterr().out)["checks"]
    assert (check["check"], check["status"]) == ("exchange", status)
    assert detail in check["detail"]


def test_drift_says_which_result_is_missing_when_the_runner_did_not_get_to_the_stack(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No result file: not run, naming the file to look for (exit 4)."""
    assert main(["drift", "--project-dir", str(PROJECT), "--stack", "contoso", "--checks", "exchange",
                 "--exchange-results", str(tmp_path)]) == 4
    assert str(tmp_path / "contoso" / result_name("verify")) in capsys.readouterr().out


def test_drift_results_and_sign_in_options_do_not_mix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The runner already handed the sign-in to the scripts: giving it to drift too is one line and exit 2."""
    pfx = tmp_path / "exo.pfx"
    pfx.write_bytes(b"stand-in")
    assert main(["drift", "--project-dir", str(PROJECT), "--stack", "contoso", "--checks", "exchange",
                 "--exchange-results", str(tmp_path), "--exchange-certificate-file", str(pfx)]) == 2
    assert "--exchange-results: the runner already handed the sign-in" in capsys.readouterr().err
