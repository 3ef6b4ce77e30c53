from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tree_sitter_powershell
import yaml
from tree_sitter import Language, Parser

from components.rotation import ROTATION_CADENCE_DAYS
from tests.stack_factory import REPO
from tests.workflow_files import ACTIONS, WORKFLOWS, load

LINTER = REPO / ".ci" / "node" / "lint-workflows.cjs"
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
# As actionlint does for run: scripts: expressions become placeholders, variables come from `env:`.
SHELLCHECK_EXCLUDES = "SC1091,SC2050,SC2154,SC2157,SC2194"


def lint(*paths: Path) -> list[dict[str, Any]]:
    """Run actionlint over the files and return its findings."""
    done = subprocess.run(["node", str(LINTER), *map(str, paths)], capture_output=True, text=True, timeout=300,
                          check=True)
    findings: list[dict[str, Any]] = json.loads(done.stdout)
    return findings


def composite_as_workflow(action: Path, into: Path) -> Path:
    """Write a composite action's steps as a reusable workflow, so that actionlint checks them too."""
    data = load(action)
    inputs = {name: {"type": "string", "default": spec.get("default", "")} for name, spec in data["inputs"].items()}
    workflow = {"on": {"workflow_call": {"inputs": inputs}},
                "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": data["runs"]["steps"]}}}
    path = into / f"action-{action.parent.name}.yml"
    path.write_text(yaml.safe_dump(workflow, sort_keys=False), encoding="utf-8")
    return path


def run_steps() -> Iterator[tuple[str, str, str]]:
    """Yield (where, shell, script) for every `run:` step of the workflows and the composite actions."""
    for path in WORKFLOWS:
        data = load(path)
        default = data.get("defaults", {}).get("run", {}).get("shell", "bash")
        for job_name, job in data["jobs"].items():
            job_default = job.get("defaults", {}).get("run", {}).get("shell", default)
            for index, step in enumerate(job.get("steps", [])):
                if "run" in step:
                    yield f"{path.name}:{job_name}[{index}]", step.get("shell", job_default), step["run"]
    for path in ACTIONS:
        for index, step in enumerate(load(path)["runs"]["steps"]):
            if "run" in step:
                yield f"{path.parent.name} action[{index}]", step["shell"], step["run"]


def test_workflows_and_actions_have_no_actionlint_findings(tmp_path: Path) -> None:
    """Actionlint finds nothing in any workflow, nor in the composite actions' steps."""
    findings = lint(*WORKFLOWS, *(composite_as_workflow(action, tmp_path) for action in ACTIONS))
    assert findings == [], "\n".join(f"{f['file']}:{f['line']}: {f['message']}" for f in findings)


def test_actionlint_reports_mistakes_in_a_broken_workflow(tmp_path: Path) -> None:
    """The linter is live: a workflow with a misspelled pulumi/actions input and a wrong `needs` is reported."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  up:\n    runs-on: ubuntu-latest\n    needs: stacks\n    steps:\n"
        "      - uses: pulumi/actions@v6\n        with:\n          comand: up\n"
        "      - run: echo ${{ vars.X }} ${{ github.event.head_commit.message }}\n",
        encoding="utf-8",
    )
    messages = [f["message"] for f in lint(broken)]
    assert any('input "comand" is not defined in action "pulumi/actions@v6"' in m for m in messages), messages
    assert any('needs job "stacks" which does not exist' in m for m in messages), messages
    assert any("potentially untrusted" in m for m in messages), messages
    assert not any("vars" in m for m in messages), "this actionlint must know the vars context"


@pytest.mark.parametrize("script", [pytest.param(s, id=w) for w, sh, s in run_steps() if sh == "bash"])
def test_bash_steps_pass_shellcheck(script: str) -> None:
    """Every bash `run:` script passes shellcheck, with ${{ }} expressions replaced as actionlint replaces them."""
    text = EXPRESSION.sub(lambda m: "_" * len(m.group()), script)
    done = subprocess.run(["shellcheck", "--shell=bash", f"--exclude={SHELLCHECK_EXCLUDES}", "-"], input=text,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("script", [pytest.param(s, id=w) for w, sh, s in run_steps() if sh == "pwsh"])
def test_pwsh_steps_parse_as_powershell(script: str) -> None:
    """Every pwsh `run:` script is valid PowerShell syntax."""
    tree = Parser(Language(tree_sitter_powershell.language())).parse(script.encode("utf-8"))
    assert not tree.root_node.has_error


def test_no_workflow_stores_an_azure_or_pulumi_credential() -> None:
    """Azure and Pulumi Cloud sign-ins use OIDC: no workflow reads a client secret, certificate or access token."""
    for path in [*WORKFLOWS, *ACTIONS]:
        text = path.read_text(encoding="utf-8")
        for name in ("ARM_CLIENT_SECRET", "ARM_CLIENT_CERTIFICATE", "AZURE_CLIENT_SECRET", "PULUMI_ACCESS_TOKEN"):
            assert name not in text, f"{path.name} uses {name}"


def test_oidc_is_granted_only_to_jobs_that_sign_in() -> None:
    """Workflows default to read-only contents; id-token: write appears only on jobs that run Pulumi."""
    for path in WORKFLOWS:
        data = load(path)
        assert data["permissions"] == {"contents": "read"}, path.name
        for name, job in data["jobs"].items():
            if job.get("permissions", {}).get("id-token") == "write":
                setups = [s for s in job["steps"] if s.get("uses") == "./.github/actions/setup"]
                assert any(s.get("with", {}).get("pulumi") == "true" for s in setups), f"{path.name}:{name}"


def test_deploy_waits_for_one_approval_before_any_stack() -> None:
    """Pulumi up runs per stack only after the approve job, which uses the `production` environment."""
    jobs = load(REPO / ".github" / "workflows" / "deploy.yml")["jobs"]
    assert jobs["approve"]["environment"] == "production"
    assert "approve" in jobs["up"]["needs"]
    assert jobs["up"]["environment"] == "deploy"
    commands = [s["with"]["command"] for s in jobs["up"]["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert commands == ["up"]


@pytest.mark.parametrize(("workflow", "job", "key"), [("drift.yml", "drift", "stacks"), ("deploy.yml", "up", "stack"),
                                                      ("pull-request.yml", "preview", "stacks"),
                                                      ("rotation.yml", "rotate", "stacks")])
def test_stack_matrices_keep_going_and_are_throttled(workflow: str, job: str, key: str) -> None:
    """Per-stack matrices do not cancel siblings on one failure and run a bounded number of stacks at once."""
    strategy = load(REPO / ".github" / "workflows" / workflow)["jobs"][job]["strategy"]
    assert strategy["fail-fast"] is False
    assert "max-parallel" in strategy
    assert strategy["matrix"][key] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"


def runner_jobs() -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (where, job) for every workflow job that runs on a runner (not a reusable-workflow call)."""
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            if "runs-on" in job:
                yield f"{path.name}:{name}", job


def test_no_job_needs_a_windows_runner() -> None:
    """Every job runs on Linux: the Exchange scripts sign in with a certificate file there (no thumbprint store)."""
    runners = {where: job["runs-on"] for where, job in runner_jobs()}
    assert runners
    assert set(runners.values()) == {"ubuntu-latest"}, runners


def test_every_job_has_a_timeout() -> None:
    """A hung pulumi, pwsh or login cannot hold a runner for GitHub's default six hours."""
    for where, job in runner_jobs():
        assert 0 < int(job["timeout-minutes"]) <= 120, where


def test_python_runs_in_utf8_mode_everywhere() -> None:
    """PYTHONUTF8=1 in every workflow and in the setup action, so a runner on any OS writes UTF-8."""
    for path in WORKFLOWS:
        assert load(path)["env"]["PYTHONUTF8"] == "1", path.name
    setup = (REPO / ".github" / "actions" / "setup" / "action.yml").read_text(encoding="utf-8")
    assert 'echo "PYTHONUTF8=1" >> "$GITHUB_ENV"' in setup


GH_RUNS = """#!{python}
import json, os, sys
args = sys.argv[1:]
runs = json.loads(os.environ["RUNS"])
for flag, key in (("--branch", "headBranch"), ("--event", "event"), ("--status", "conclusion")):
    if flag in args:
        runs = [r for r in runs if r[key] == args[args.index(flag) + 1]]
print(runs[0]["headSha"] if runs else "")
"""


def test_deploy_base_is_the_last_successful_deploy_after_a_push_to_main(tmp_path: Path) -> None:
    """A newer manual deploy of named stacks or a shard is not the base: it did not deploy every changed stack."""
    step = load(REPO / ".github" / "workflows" / "deploy.yml")["jobs"]["base"]["steps"][0]
    gh = tmp_path / "gh"
    gh.write_text(GH_RUNS.format(python=sys.executable), encoding="utf-8")
    gh.chmod(0o755)
    runs = [{"headSha": "manual", "event": "workflow_dispatch", "headBranch": "main", "conclusion": "success"},
            {"headSha": "failed", "event": "push", "headBranch": "main", "conclusion": "failure"},
            {"headSha": "pushed", "event": "push", "headBranch": "main", "conclusion": "success"}]
    output = tmp_path / "output"
    output.write_text("", encoding="utf-8")
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "RUNS": json.dumps(runs), "GITHUB_OUTPUT": str(output),
           "GITHUB_REPOSITORY": "contoso/exo-oauth"}
    subprocess.run(["bash", "-e", "-c", step["run"]], env=env, check=True, capture_output=True, timeout=60)
    assert output.read_text(encoding="utf-8") == "sha=pushed\n"


def test_pull_request_review_step_fails_when_review_comment_fails(tmp_path: Path) -> None:
    """review-comment refusing its input (exit 2) fails the step, and no comment path is handed to the next step."""
    step = next(s for s in load(REPO / ".github" / "workflows" / "pull-request.yml")["jobs"]["review"]["steps"]
                if s.get("id") == "plan")
    exo = tmp_path / "exo-oauth"
    exo.write_text('#!/bin/sh\nif [ "$1" = review-comment ]; then echo "bad input" >&2; exit 2; fi\nexit 0\n',
                   encoding="utf-8")
    exo.chmod(0o755)
    files = {name: tmp_path / name for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    for path in files.values():
        path.write_text("", encoding="utf-8")
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path), "BASE_REF": "main",
           "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "1",
           **{k: str(v) for k, v in files.items()}}
    done = subprocess.run(["bash", "-c", step["run"]], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert "review-comment exited 2" in done.stdout
    assert "comment=" not in files["GITHUB_OUTPUT"].read_text(encoding="utf-8")


def test_rotation_runs_at_least_as_often_as_the_shortest_overlap_allows() -> None:
    """rotation.yml's cron fires at least every ROTATION_CADENCE_DAYS, the shortest rotateBeforeDays config accepts.

    A run less often than that could let an old secret end before the run that creates the next one.
    """
    [entry] = load(REPO / ".github" / "workflows" / "rotation.yml")[True]["schedule"]
    _minute, _hour, day_of_month, month, day_of_week = entry["cron"].split()
    assert (day_of_month, month) == ("*", "*"), entry
    days = 1 if day_of_week == "*" else 7 // len(day_of_week.split(","))
    assert days <= ROTATION_CADENCE_DAYS
