"""Every `exo-oauth` command line in the workflows and composite actions runs cleanly for every example stack.

Each `run:` step that calls exo-oauth is run with bash, its `${{ }}` expressions expanded with realistic values, in
a scratch git copy of the project, with stand-ins on PATH: `pulumi` serves the offline plan's outputs (as a
deployed stack's, with real-looking IDs) and a preview, `gh` and `pwsh` succeed, and `exo-oauth` records each
invocation before running the real CLI. No Microsoft endpoint is reachable: HTTPS_PROXY points at a closed port.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from exo_oauth.fleet.project import load_stack, stack_names
from exo_oauth.plan.offline import plan_stack
from tests.certificates import PFX_PASSWORD, pfx
from tests.preview_samples import DUE_STEPS, SAME_APP, STACK
from tests.preview_samples import step as preview_step
from tests.stack_factory import PROJECT, REPO
from tests.workflow_files import ACTIONS, WORKFLOWS, load

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
STANDIN_GUID = re.compile(r"00000000-[0-9a-f]{4}-4000-8000-[0-9a-f]{12}")
CALL = re.compile(r"(?<![\w-])exo-oauth ([a-z-]+)")
QUOTED = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'")


def calls_in(script: str) -> list[str]:
    """Return the subcommands a script calls, leaving out advice quoted inside messages."""
    return CALL.findall(QUOTED.sub("", script))


PULUMI = """#!{python}
import json, os, sys
args = sys.argv[1:]
stack = args[args.index("--stack") + 1] if "--stack" in args else ""
with open(os.environ["STANDIN_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps({{"tool": "pulumi", "argv": args}}) + "\\n")
if args[:2] == ["stack", "output"]:
    outputs = json.load(open(os.path.join(os.environ["STANDIN_OUTPUTS"], stack + ".json"), encoding="utf-8"))
    if "--show-secrets" not in args:
        outputs["clientSecrets"] = {{k: "[secret]" for k in outputs.get("clientSecrets", {{}})}}
    print(json.dumps(outputs))
elif args[:1] == ["preview"] and "--json" in args:
    print(open(os.environ["STANDIN_PREVIEW"], encoding="utf-8").read())
elif args[:1] in (["preview"], ["up"]):
    print("Resources: 13 unchanged")
else:
    print("pulumi stand-in: unexpected " + " ".join(args), file=sys.stderr)
    sys.exit(255)
"""
RECORDER = """#!{python}
import json, os, subprocess, sys
done = subprocess.run([sys.executable, "-m", "exo_oauth.cli", *sys.argv[1:]], stderr=subprocess.PIPE, text=True)
sys.stderr.write(done.stderr)
with open(os.environ["STANDIN_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps({{"tool": "exo-oauth", "argv": sys.argv[1:], "status": done.returncode,
                           "stderr": done.stderr}}) + "\\n")
sys.exit(done.returncode)
"""
QUIET = "#!/bin/sh\nexit 0\n"
GH = """#!{python}
# Stands in for gh: no open issue, every other call succeeds silently; each call is logged.
import json, os, sys
with open(os.environ["STANDIN_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps({{"tool": "gh", "argv": sys.argv[1:]}}) + "\\n")
if sys.argv[1:3] == ["issue", "list"]:
    print("[]")
"""
ROTATION_PREVIEWS = {
    "due": DUE_STEPS,
    "blocked": [*DUE_STEPS, preview_step("update", "azuread:index/application:Application", "scanners-app",
                                         diffReasons=["displayName"])],
    "other": [STACK, preview_step("update", "azuread:index/application:Application", "scanners-app",
                                  diffReasons=["displayName"])],
    "none": [STACK, SAME_APP],
}


def real_looking(outputs: dict[str, Any]) -> dict[str, Any]:
    """Return the plan's outputs with each stand-in GUID replaced by a stable random-looking one, as after a deploy."""
    text = STANDIN_GUID.sub(lambda m: str(uuid.uuid5(uuid.NAMESPACE_URL, m.group(0))), json.dumps(outputs))
    return dict(json.loads(text))


def tool(folder: Path, name: str, text: str) -> None:
    """Write an executable stand-in."""
    (folder / name).write_text(text.format(python=sys.executable) if "{python}" in text else text, encoding="utf-8")
    (folder / name).chmod((folder / name).stat().st_mode | stat.S_IEXEC)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Return the scratch project (a git repository with origin/main), the stand-in bin folder and the outputs."""
    root = tmp_path_factory.mktemp("invocations")
    project, outputs, bin_dir = root / "project", root / "outputs", root / "bin"
    shutil.copytree(PROJECT / "stacks", project / "stacks")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, project / name)
    for folder in (outputs, bin_dir):
        folder.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "fleet"],
                 ["update-ref", "refs/remotes/origin/main", "HEAD"]):
        subprocess.run(["git", *argv], cwd=project, env=env, check=True, capture_output=True, timeout=60)
    for name in stack_names(PROJECT):
        planned = plan_stack(REPO, load_stack(PROJECT, name), datetime.now(UTC)).outputs
        secrets = {n: "stand-in-secret" for n, a in planned["apps"].items() if a["credential"]["type"] == "secret"}
        (outputs / f"{name}.json").write_text(json.dumps(real_looking(planned | {"clientSecrets": secrets})),
                                              encoding="utf-8")
    tool(bin_dir, "pulumi", PULUMI)
    tool(bin_dir, "exo-oauth", RECORDER)
    tool(bin_dir, "gh", GH)
    tool(bin_dir, "pwsh", QUIET)
    preview = root / "preview.json"
    preview.write_text(json.dumps({"steps": [], "diagnostics": [], "changeSummary": {"same": 1}}), encoding="utf-8")
    return {"project": project, "outputs": outputs, "bin": bin_dir, "preview": preview}


def evaluate(expression: str, context: dict[str, Any]) -> str:
    """Evaluate the `a || b || 'literal'` expressions the workflows use; a fromJSON lookup or unset path is ''."""
    for operand in (o.strip() for o in expression.split("||")):
        if operand.startswith("'"):
            value: Any = operand.strip("'")
        elif operand.startswith("fromJSON("):
            value = ""
        else:
            value = context
            for part in operand.split("."):
                value = value.get(part, "") if isinstance(value, dict) else ""
        if value not in ("", None, False):
            return str(value)
    return ""


def expand(text: str, context: dict[str, Any]) -> str:
    """Replace every `${{ }}` in `text`."""
    return EXPRESSION.sub(lambda m: evaluate(m.group(1), context), text)


def steps_calling_exo_oauth() -> Iterator[tuple[str, dict[str, Any], dict[str, str], str]]:
    """Yield (where, inputs, env, script) for each run step with an exo-oauth command line, with caller inputs.

    stacks.yml is run with the `with:` of each workflow that calls it; the exchange action with the deploy's.
    """
    callers: list[tuple[str, dict[str, Any]]] = []
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            if job.get("uses") == "./.github/workflows/stacks.yml":
                callers.append((path.name, job.get("with", {})))
    for path in WORKFLOWS:
        data = load(path)
        inputs_spec = data[True].get("workflow_call", {}) if isinstance(data[True], dict) else {}
        for job_name, job in data["jobs"].items():
            for index, step in enumerate(job.get("steps", [])):
                if not calls_in(step.get("run", "")):
                    continue
                env = {**data.get("env", {}), **job.get("env", {}), **step.get("env", {})}
                variants = [(f"called by {c}", w) for c, w in callers] if inputs_spec else [("", {})]
                for label, given in variants:
                    defaults = {k: v.get("default", "") for k, v in (inputs_spec or {}).get("inputs", {}).items()}
                    yield f"{path.name}:{job_name}[{index}] {label}", {**defaults, **given}, env, step["run"]
    for path in ACTIONS:
        for index, step in enumerate(load(path)["runs"]["steps"]):
            if calls_in(step.get("run", "")):
                defaults = {k: v.get("default", "") for k, v in load(path)["inputs"].items()}
                yield f"{path.parent.name} action[{index}]", defaults, step.get("env", {}), step["run"]


def run_step(sandbox: dict[str, Path], tmp_path: Path, inputs: dict[str, Any], env: dict[str, str], script: str,
             stacks: str, preview: Path | None = None) -> list[dict[str, Any]]:
    """Run one step's script for a batch of stacks; return the pulumi and exo-oauth invocations it made, in order."""
    secrets = {"EXO_CERTIFICATE_PFX": pfx(), "EXO_CERTIFICATE_PASSWORD": PFX_PASSWORD}
    context: dict[str, Any] = {"matrix": {"stack": stacks.split(maxsplit=1)[0], "stacks": stacks}, "secrets": secrets,
                               "github": {"token": "t", "base_ref": "main", "event_name": "workflow_dispatch"},
                               "needs": {"base": {"outputs": {"sha": ""}}, "stacks": {"outputs": {"stacks": "[]"}}}}
    context["inputs"] = {k: expand(str(v), context) for k, v in inputs.items()}
    context["inputs"] |= {"stacks": context["inputs"].get("stacks") or stacks,
                          "certificate-pfx": secrets["EXO_CERTIFICATE_PFX"],
                          "certificate-password": PFX_PASSWORD}
    files = {name: tmp_path / name.lower() for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY")}
    for path in files.values():
        path.write_text("", encoding="utf-8")
    certificate = tmp_path / "exo.pfx"
    certificate.write_bytes(base64.b64decode(secrets["EXO_CERTIFICATE_PFX"]))
    # What deploy.yml's step before `pulumi up` saves in RUNNER_TEMP for --previous ({} as on a first deploy).
    (tmp_path / "previous-outputs.json").write_text("{}\n", encoding="utf-8")
    log = tmp_path / "log.jsonl"
    log.write_text("", encoding="utf-8")
    full_env = {"PATH": os.pathsep.join([str(sandbox["bin"]), "/usr/bin", "/bin"]), "HOME": str(tmp_path),
                "RUNNER_TEMP": str(tmp_path), "RUNNER_OS": "Linux", "GITHUB_SERVER_URL": "https://github.com",
                "GITHUB_REPOSITORY": "contoso/exo-oauth", "GITHUB_RUN_ID": "1", "HTTPS_PROXY": "http://127.0.0.1:9",
                "XDG_CACHE_HOME": str(tmp_path / "cache"), "STANDIN_LOG": str(log),
                "STANDIN_OUTPUTS": str(sandbox["outputs"]), "STANDIN_PREVIEW": str(preview or sandbox["preview"]),
                "PYTHONPATH": str(REPO), "EXO_CERTIFICATE_FILE": str(certificate),  # as the exchange action exports
                **{k: str(v) for k, v in files.items()}}
    full_env |= {k: expand(str(v), context) for k, v in env.items()}
    done = subprocess.run(["bash", "-e", "-c", script], cwd=sandbox["project"], env=full_env, capture_output=True,
                          text=True, timeout=300, check=False)
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return [*calls, {"tool": "step", "status": done.returncode, "stdout": done.stdout}]


STEPS = list(steps_calling_exo_oauth())
FIXTURE_STACKS = stack_names(PROJECT)


def test_every_exo_oauth_command_line_is_covered() -> None:
    """The steps found name every subcommand the workflows and actions call (the extraction misses none)."""
    called = {m for _, _, _, script in STEPS for m in calls_in(script)}
    assert called >= {"stacks", "drift", "drift-report", "exchange", "exchange-sign-in", "rotation-due"}


@pytest.mark.parametrize("stacks", [*FIXTURE_STACKS, " ".join(FIXTURE_STACKS)])
@pytest.mark.parametrize(("where", "inputs", "env", "script"), STEPS, ids=[s[0] for s in STEPS])
def test_command_line_is_a_valid_invocation_for_the_example_stacks(
    sandbox: dict[str, Path], tmp_path: Path, where: str, inputs: dict[str, Any], env: dict[str, str], script: str,
    stacks: str,
) -> None:
    """Each exo-oauth call parses and reads the stack: no usage error; exit 2 only for a stack's missing appId."""
    calls = [c for c in run_step(sandbox, tmp_path, inputs, env, script, stacks) if c["tool"] == "exo-oauth"]
    assert calls, f"{where}: no exo-oauth command ran"
    if "for stack in $STACKS" in script:
        assert {a for c in calls for a in c["argv"]} >= set(stacks.split()), f"{where}: a stack was skipped"
    for call in calls:
        assert "usage:" not in call["stderr"], f"{where}: {call['argv']}: {call['stderr']}"
        assert "Traceback" not in call["stderr"], f"{where}: {call['argv']}: {call['stderr']}"
        if call["argv"][0] == "exchange-sign-in" and "--stack" in call["argv"]:
            # The example stacks set no exchange.appId: the action must stop there, with one line that says so.
            assert call["status"] == 2, call
            assert "exo-oauth:exchange.appId" in call["stderr"], call
            assert call["stderr"].count("\n") == 1, call
        elif call["argv"][0] in ("drift", "drift-report"):
            # No Microsoft endpoint here: the checks cannot run (4) or find drift, but the command line is good.
            assert call["status"] not in (2, 3), f"{where}: {call['argv']}: {call['stderr']}"
        else:
            assert call["status"] == 0, f"{where}: {call['argv']}: {call['stderr']}"


@pytest.mark.parametrize(("verdict", "deployed"), [("due", True), ("blocked", False), ("other", False),
                                                  ("none", False)])
def test_the_schedule_deploys_exactly_the_stacks_whose_only_change_is_rotation(
    sandbox: dict[str, Path], tmp_path: Path, verdict: str, deployed: bool
) -> None:
    """The rotation job runs `pulumi up --refresh` for each stack whose preview shows only a due credential."""
    step = next(s for s in load(REPO / ".github" / "workflows" / "rotation.yml")["jobs"]["rotate"]["steps"]
                if "run" in s)
    job_env = load(REPO / ".github" / "workflows" / "rotation.yml")["jobs"]["rotate"]["env"]
    preview = tmp_path / "due-preview.json"
    preview.write_text(json.dumps({"steps": ROTATION_PREVIEWS[verdict], "diagnostics": []}), encoding="utf-8")
    calls = run_step(sandbox, tmp_path, {}, {**job_env, **step.get("env", {})}, step["run"], " ".join(FIXTURE_STACKS),
                     preview)
    ups = [c["argv"] for c in calls if c["tool"] == "pulumi" and c["argv"][0] == "up"]
    expected = [["up", "--stack", name, "--refresh", "--yes", "--policy-pack", "policy", "--non-interactive",
                 "--suppress-outputs"] for name in FIXTURE_STACKS] if deployed else []
    assert ups == expected


def test_a_blocked_rotation_turns_the_job_red_and_opens_an_issue_per_stack(
    sandbox: dict[str, Path], tmp_path: Path
) -> None:
    """A due rotation behind another change: the step fails, and rotation-due's decision creates each stack's issue."""
    step = next(s for s in load(REPO / ".github" / "workflows" / "rotation.yml")["jobs"]["rotate"]["steps"]
                if "run" in s)
    job_env = load(REPO / ".github" / "workflows" / "rotation.yml")["jobs"]["rotate"]["env"]
    preview = tmp_path / "blocked-preview.json"
    preview.write_text(json.dumps({"steps": ROTATION_PREVIEWS["blocked"], "diagnostics": []}), encoding="utf-8")
    calls = run_step(sandbox, tmp_path, {}, {**job_env, **step.get("env", {})}, step["run"], " ".join(FIXTURE_STACKS),
                     preview)
    assert calls[-1]["status"] != 0
    created = [c["argv"] for c in calls if c["tool"] == "gh" and c["argv"][:2] == ["issue", "create"]]
    assert [a[a.index("--title") + 1] for a in created] == [f"Rotation blocked: stack {n}" for n in FIXTURE_STACKS]
    assert all(a[a.index("--label") + 1] == "rotation-blocked" for a in created)
    assert f"::error::stack {FIXTURE_STACKS[0]}: a due rotation waits for a reviewed deploy" in calls[-1]["stdout"]
