from __future__ import annotations

import copy
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

from exo_domain.rotation import ROTATION_CADENCE_DAYS
from tests.stack_factory import REPO
from tests.workflow_files import ACTIONS, WORKFLOWS, load
from tests.workflow_rules import (
    credential_findings,
    env_secret_findings,
    environment_of,
    environment_table,
    load_called,
    pin_findings,
)

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


BROKEN_WORKFLOW = (
    "on: push\njobs:\n  up:\n    runs-on: ubuntu-latest\n    needs: stacks\n    steps:\n"
    "      - uses: pulumi/actions@v6\n        with:\n          comand: up\n"
    "      - run: echo ${{ vars.X }} ${{ github.event.head_commit.message }}\n"
)
"""A misspelled pulumi/actions input, a `needs` of a job that does not exist and an untrusted value in a script."""


@pytest.fixture(scope="module")
def actionlint_findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Lint the workflows, the composite actions' steps and BROKEN_WORKFLOW in one run; return their findings.

    One run, because each starts Node and loads actionlint's WebAssembly (about 3 s); actionlint checks each file on
    its own. The keys: "ours" (the workflows and actions) and "broken".
    """
    folder = tmp_path_factory.mktemp("actionlint")
    broken = folder / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW, encoding="utf-8")
    findings = lint(*WORKFLOWS, *(composite_as_workflow(action, folder) for action in ACTIONS), broken)
    return {"ours": [f for f in findings if f["file"] != str(broken)],
            "broken": [f for f in findings if f["file"] == str(broken)]}


def test_workflows_and_actions_have_no_actionlint_findings(
        actionlint_findings: dict[str, list[dict[str, Any]]]) -> None:
    """Actionlint finds nothing in any workflow, nor in the composite actions' steps."""
    findings = actionlint_findings["ours"]
    assert findings == [], "\n".join(f"{f['file']}:{f['line']}: {f['message']}" for f in findings)


def test_actionlint_reports_mistakes_in_a_broken_workflow(actionlint_findings: dict[str, list[dict[str, Any]]]) -> None:
    """The linter is live: a workflow with a misspelled pulumi/actions input and a wrong `needs` is reported."""
    messages = [f["message"] for f in actionlint_findings["broken"]]
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


DOCS = REPO / "docs" / "ci-and-fleet.md"
ENVIRONMENTS = environment_table(DOCS.read_text(encoding="utf-8"))
CALLED = load_called(WORKFLOWS, load)
GATED_PREVIEW = {True: {"pull_request": None}, "jobs": {"preview": {
    "runs-on": "ubuntu-latest", "environment": "preview", "permissions": {"id-token": "write"}, "steps": []}}}


def credential_and_env_findings(workflow: dict[Any, Any]) -> list[str]:
    """All credential findings of one workflow, as the repository test computes them."""
    return [*credential_findings("w.yml", workflow, ENVIRONMENTS, CALLED), *env_secret_findings("w.yml", workflow)]


def test_no_pull_request_job_holds_credentials_without_an_approval_gate() -> None:
    """Pull-request code gets an OIDC token only behind required reviewers, and no secret; no secret is in an env:.

    Every job with credentials is in an environment of the docs' table, and no workflow or job `env:` holds a secret.
    """
    findings = [f for path in WORKFLOWS
                for f in (*credential_findings(path.name, load(path), ENVIRONMENTS, CALLED),
                          *env_secret_findings(path.name, load(path)))]
    assert findings == []
    assert credential_and_env_findings(GATED_PREVIEW) == [], "the sample a hostile case breaks is itself clean"


def broken(change: str) -> dict[Any, Any]:
    """Return the gated preview sample with one rule broken."""
    sample = copy.deepcopy(GATED_PREVIEW)
    job = sample["jobs"]["preview"]
    if change == "no environment":
        del job["environment"]
    elif change == "ungated environment":
        job["environment"] = "deploy"
    elif change == "passphrase":
        job["steps"] = [{"run": "pulumi preview", "env": {"P": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"}}]
    elif change == "pull_request_target":
        sample[True] = {"pull_request_target": None}
    elif change == "secrets inherit":
        sample["jobs"]["stacks"] = {"uses": "./.github/workflows/stacks.yml", "secrets": "inherit"}
    elif change == "job env secret":
        sample[True] = {"push": None}
        job["environment"] = {"name": "drift"}
        job["env"] = {"P": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"}
    elif change == "workflow env secret":
        sample["env"] = {"PFX": "${{ secrets.EXO_CERTIFICATE_PFX }}"}
    elif change == "unknown environment":
        sample[True] = {"push": None}
        job["environment"] = "staging"
    return sample


@pytest.mark.parametrize(("change", "finding"), [
    ("no environment", "holds credentials outside an environment"),
    ("ungated environment", "environment deploy, which has no required reviewers"),
    ("passphrase", "pull-request code reads secret PULUMI_CONFIG_PASSPHRASE"),
    ("pull_request_target", "runs on pull_request_target"),
    ("secrets inherit", "passes secrets to ./.github/workflows/stacks.yml"),
    ("job env secret", "job env holds secret PULUMI_CONFIG_PASSPHRASE"),
    ("workflow env secret", "workflow env holds secret EXO_CERTIFICATE_PFX"),
    ("unknown environment", "environment staging is not in docs/ci-and-fleet.md"),
])
def test_credential_check_reports_each_way_a_workflow_leaks(change: str, finding: str) -> None:
    """The check is live: each broken rule in an otherwise clean sample gives its own finding."""
    findings = credential_and_env_findings(broken(change))
    assert any(finding in f for f in findings), findings


def test_environments_with_deploy_credentials_admit_only_main_or_a_reviewer() -> None:
    """Every environment a job uses is in the docs' table; the preview's has reviewers, the credentials' main only.

    A pull request can edit its workflow to name any environment: only these rules in GitHub stop it.
    """
    used = {(path.name, name) for path in WORKFLOWS for job in load(path)["jobs"].values()
            if (name := environment_of(job)) is not None}
    assert {name for _, name in used} <= set(ENVIRONMENTS), used
    assert ENVIRONMENTS["preview"].reviewers
    assert not ENVIRONMENTS["preview"].main_only
    for name in ("deploy", "rotation", "drift"):
        assert ENVIRONMENTS[name].main_only, name


def test_every_federated_subject_the_docs_name_is_an_environment_a_job_signs_in_from() -> None:
    """The docs' federated credentials are exactly the environments of the jobs with id-token: write.

    None trusts the pull_request or a branch subject, which any pull request's or branch's code would present.
    """
    text = DOCS.read_text(encoding="utf-8")
    trusted = set(re.findall(r"\| `repo:<owner>/<repo>:environment:([a-z-]+)` \|", text))
    signing_in = {environment_of(job) for path in WORKFLOWS for job in load(path)["jobs"].values()
                  if job.get("permissions", {}).get("id-token") == "write"}
    assert trusted == signing_in
    assert "| `repo:<owner>/<repo>:pull_request` | never |" in text


def test_every_action_is_pinned_by_commit_sha_with_its_version() -> None:
    """Workflows and composite actions use actions by full commit SHA, the version in a comment (Dependabot's form)."""
    findings = [f for path in [*WORKFLOWS, *ACTIONS] for f in pin_findings(path.name, path.read_text(encoding="utf-8"))]
    assert findings == []
    assert sum(1 for path in [*WORKFLOWS, *ACTIONS] for line in path.read_text(encoding="utf-8").splitlines()
               if "uses:" in line and "@" in line) >= 10


@pytest.mark.parametrize(("line", "finding"), [
    ("      - uses: actions/checkout@v4", "not pinned"),
    ("      - uses: actions/checkout@11d5960", "not pinned"),
    ("        uses: docker://alpine:3", "not pinned"),
    ("      - uses: actions/checkout@11d5960a326750d5838078e36cf38b85af677262", "no `# vX.Y.Z` comment"),
])
def test_pin_check_reports_a_tag_a_short_sha_and_a_missing_version(line: str, finding: str) -> None:
    """The pin check is live: a tag, a short SHA, a docker tag and a SHA without its version are each reported."""
    assert any(finding in f for f in pin_findings("w.yml", f"steps:\n{line}\n")), line


def test_dependabot_updates_the_pinned_actions_and_the_python_dependencies() -> None:
    """Dependabot watches the workflows and each composite action (github-actions) and both pip manifests."""
    config = load(REPO / ".github" / "dependabot.yml")
    watched = {(u["package-ecosystem"], d) for u in config["updates"]
               for d in u.get("directories", [u.get("directory")])}
    actions = {f"/.github/actions/{path.parent.name}" for path in ACTIONS}
    assert {("github-actions", "/")} | {("github-actions", a) for a in actions} <= watched
    assert {("pip", "/"), ("pip", "/policy")} <= watched
    assert (REPO / "policy" / "requirements.txt").is_file()


DRIFT_STANDIN = """#!{python}
# Stands in for exo-oauth in the drift step. `drift`: marks itself running, then waits (up to 20 s) until as many
# checks as CONCURRENCY (or every stack) have started, logging how many ran when it started and when it stopped
# waiting. `drift-report`: decides `none`.
import json, os, sys, time
folder = os.environ["STANDIN_DIR"]
if sys.argv[1] == "drift-report":
    print(json.dumps({{"action": "none", "title": "t", "body": "b"}}))
    sys.exit(0)
stack = sys.argv[sys.argv.index("--stack") + 1]
running, started = os.path.join(folder, "running"), os.path.join(folder, "started")
open(os.path.join(running, stack), "w").close()
open(os.path.join(started, stack), "w").close()
at_start = len(os.listdir(running))
wanted = min(int(os.environ["CONCURRENCY"]), len(os.environ["STACKS"].split()))
deadline = time.monotonic() + 20
while len(os.listdir(started)) < wanted and time.monotonic() < deadline:
    time.sleep(0.05)
together = len(os.listdir(running))
os.remove(os.path.join(running, stack))
with open(os.path.join(folder, "log"), "a", encoding="utf-8") as log:
    log.write(f"{{stack}} {{at_start}} {{together}}\\n")
print(json.dumps({{"stack": stack, "exitStatus": 0, "checks": []}}))
"""


def test_drift_checks_up_to_its_concurrency_of_stacks_at_once(tmp_path: Path) -> None:
    """The drift step runs CONCURRENCY checks together, never more, and every stack's check and decision."""
    step = next(s for s in load(REPO / ".github" / "workflows" / "drift.yml")["jobs"]["drift"]["steps"]
                if "exo-oauth drift " in s.get("run", ""))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("exo-oauth", DRIFT_STANDIN.format(python=sys.executable)), ("gh", "#!/bin/sh\necho '[]'\n")):
        (bin_dir / name).write_text(text, encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    for folder in ("running", "started"):
        (tmp_path / folder).mkdir()
    stacks = ["a", "b", "c", "d", "e"]
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path), "STANDIN_DIR": str(tmp_path),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"), "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "1", "STACKS": " ".join(stacks), "CONCURRENCY": "2",
           "AZURE_CLIENT_IDS": "{}", "AZURE_CLIENT_ID": "x"}
    done = subprocess.run(["bash", "-c", step["run"]], env=env, capture_output=True, text=True, timeout=200,
                          check=False)
    assert done.returncode == 0, done.stderr
    log = [line.split() for line in (tmp_path / "log").read_text(encoding="utf-8").splitlines()]
    assert sorted(stack for stack, _, _ in log) == stacks
    assert max(int(at_start) for _, at_start, _ in log) <= 2, log
    assert max(int(together) for _, _, together in log) == 2, log


def test_rotation_runs_at_least_as_often_as_the_shortest_overlap_allows() -> None:
    """rotation.yml's cron fires at least every ROTATION_CADENCE_DAYS, the shortest rotateBeforeDays config accepts.

    A run less often than that could let an old secret end before the run that creates the next one.
    """
    [entry] = load(REPO / ".github" / "workflows" / "rotation.yml")[True]["schedule"]
    _minute, _hour, day_of_month, month, day_of_week = entry["cron"].split()
    assert (day_of_month, month) == ("*", "*"), entry
    days = 1 if day_of_week == "*" else 7 // len(day_of_week.split(","))
    assert days <= ROTATION_CADENCE_DAYS
