from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tree_sitter_powershell
import yaml
from tree_sitter import Language, Parser

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONS = sorted((ROOT / ".github" / "actions").glob("*/action.yml"))
LINTER = ROOT / ".ci" / "node" / "lint-workflows.cjs"
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
# As actionlint does for run: scripts: expressions become placeholders, variables come from `env:`.
SHELLCHECK_EXCLUDES = "SC1091,SC2050,SC2154,SC2157,SC2194"


def load(path: Path) -> dict[Any, Any]:
    """Return a workflow or action file as data (YAML's `on:` key reads as True)."""
    data: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


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
                uses = [step.get("uses", "") for step in job["steps"]]
                assert any(u.startswith("pulumi/actions@") for u in uses), f"{path.name}:{name}"


def test_deploy_waits_for_one_approval_before_any_stack() -> None:
    """Pulumi up runs per stack only after the approve job, which uses the `production` environment."""
    jobs = load(ROOT / ".github" / "workflows" / "deploy.yml")["jobs"]
    assert jobs["approve"]["environment"] == "production"
    assert "approve" in jobs["up"]["needs"]
    assert jobs["up"]["environment"] == "deploy"
    commands = [s["with"]["command"] for s in jobs["up"]["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert commands == ["up"]


@pytest.mark.parametrize(("workflow", "job"), [("drift.yml", "drift"), ("deploy.yml", "up"),
                                               ("pull-request.yml", "preview")])
def test_stack_matrices_keep_going_and_are_throttled(workflow: str, job: str) -> None:
    """Per-stack matrices do not cancel siblings on one failure and run a bounded number of stacks at once."""
    strategy = load(ROOT / ".github" / "workflows" / workflow)["jobs"][job]["strategy"]
    assert strategy["fail-fast"] is False
    assert "max-parallel" in strategy
    assert strategy["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"


# Changed-stack selection: the `select` step of stacks.yml, run in a scratch git repository.

SELECT = next(s["run"] for s in load(ROOT / ".github" / "workflows" / "stacks.yml")["jobs"]["list"]["steps"]
              if s.get("id") == "select")


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` and return its output."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Return a git repository with three stacks and a component, all committed."""
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "stacks").mkdir()
    for name in ("contoso", "fabrikam", "tailspin"):
        (tmp_path / "stacks" / f"Pulumi.{name}.yaml").write_text("config: {}\n", encoding="utf-8")
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "mail_app.py").write_text("", encoding="utf-8")
    (tmp_path / "README.md").write_text("", encoding="utf-8")
    commit(tmp_path, "start")
    return tmp_path


def commit(repo: Path, message: str) -> str:
    """Commit everything and return the new commit id."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def select(repo: Path, base: str = "", shard: int = 0, require_all: bool = False) -> tuple[int, list[str], str]:
    """Run the select step; return its exit status, the stacks it output and its log."""
    output = repo / "github-output"
    output.write_text("", encoding="utf-8")
    env = {**os.environ, "BASE": base, "SHARD": str(shard), "REQUIRE_ALL": str(require_all).lower(),
           "GITHUB_OUTPUT": str(output)}
    done = subprocess.run(["bash", "-c", SELECT], cwd=repo, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    lines = dict(line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines())
    return done.returncode, json.loads(lines.get("stacks", "null")) or [], done.stdout + done.stderr


def test_selection_without_base_is_every_stack_sorted(repo: Path) -> None:
    """With no revision to compare with, every stack file is selected, in name order."""
    assert select(repo)[:2] == (0, ["contoso", "fabrikam", "tailspin"])


def test_selection_is_the_stacks_whose_file_changed(repo: Path) -> None:
    """Only stacks whose file changed since the base are selected; a deleted stack file is left out."""
    base = git(repo, "rev-parse", "HEAD")
    (repo / "stacks" / "Pulumi.tailspin.yaml").write_text("config: {a: 1}\n", encoding="utf-8")
    (repo / "stacks" / "Pulumi.fabrikam.yaml").unlink()
    (repo / "README.md").write_text("docs\n", encoding="utf-8")
    commit(repo, "change one stack, delete one")
    assert select(repo, base)[:2] == (0, ["tailspin"])


def test_selection_is_empty_when_no_stack_changed(repo: Path) -> None:
    """A change outside stacks/ and the program selects nothing: the JSON list is empty."""
    base = git(repo, "rev-parse", "HEAD")
    (repo / "README.md").write_text("docs\n", encoding="utf-8")
    commit(repo, "docs")
    assert select(repo, base)[:2] == (0, [])


@pytest.mark.parametrize("path", ["components/mail_app.py", "__main__.py", "Pulumi.yaml", "policy/__main__.py"])
def test_selection_is_every_stack_when_the_program_changed(repo: Path, path: str) -> None:
    """A change to the program or the policy pack selects every stack."""
    base = git(repo, "rev-parse", "HEAD")
    (repo / path).parent.mkdir(exist_ok=True)
    (repo / path).write_text("# changed\n", encoding="utf-8")
    commit(repo, f"change {path}")
    assert select(repo, base)[:2] == (0, ["contoso", "fabrikam", "tailspin"])


def test_selection_with_unknown_base_is_every_stack(repo: Path) -> None:
    """A base commit the clone does not have (history rewritten) selects every stack rather than none."""
    status, stacks, log = select(repo, "0123456789abcdef0123456789abcdef01234567")
    assert (status, stacks) == (0, ["contoso", "fabrikam", "tailspin"])
    assert "every stack" in log


def test_more_than_256_stacks_are_split_into_shards(repo: Path) -> None:
    """Over GitHub's 256-job matrix limit, a given shard is selected, or the run fails when all are required."""
    for i in range(300):
        (repo / "stacks" / f"Pulumi.t{i:03d}.yaml").write_text("config: {}\n", encoding="utf-8")
    commit(repo, "many stacks")
    status, stacks, _ = select(repo, shard=2)
    assert status == 0
    # In name order contoso and fabrikam come first, tailspin last: shard 2 is t254 to t299 and tailspin.
    assert stacks == [*(f"t{i:03d}" for i in range(254, 300)), "tailspin"]
    status, stacks, log = select(repo, require_all=True)
    assert status == 1
    assert "303 stacks qualify, more than the 256 jobs" in log
    status, stacks, _ = select(repo)
    assert status == 0
    assert 0 < len(stacks) <= 256
    assert select(repo, shard=3)[0] == 1
