"""The credential and pinning rules the workflows keep (issue 19), as pure checks over parsed workflow files.

Each check returns findings, one line each, so a test can assert none for the repository's files and at least the
expected one for a hostile sample. The environments' protection rules live in GitHub's settings, not in the files:
docs/ci-and-fleet.md's table "Approval gates and environments" is what admins configure, and these checks read it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECRET = re.compile(r"\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)")
PINNED = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_./-]+)?@[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"#\s*v\d+(?:\.\d+)*\s*$")
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")
REFUSED_TRIGGERS = ("pull_request_target", "workflow_run")
"""Triggers that run with the base repository's secrets on behalf of a pull request: not used at all."""
PULL_REQUEST_TRIGGERS = ("pull_request", *REFUSED_TRIGGERS)


@dataclass(frozen=True)
class Environment:
    """One row of the docs' environment table: its protection rules as admins configure them."""

    name: str
    reviewers: bool
    main_only: bool


def triggers(workflow: Mapping[Any, Any]) -> set[str]:
    """Return the events a workflow runs on (YAML reads the `on:` key as True)."""
    on = workflow.get(True, workflow.get("on", {}))
    if isinstance(on, str):
        return {on}
    return set(on)


def secrets_in(value: Any) -> set[str]:
    """Return the secret names a value (any nesting) reads, GITHUB_TOKEN left out: GitHub gives it to every job."""
    if isinstance(value, str):
        return set(SECRET.findall(value)) - {"GITHUB_TOKEN"}
    if isinstance(value, Mapping):
        return {n for v in value.values() for n in secrets_in(v)}
    if isinstance(value, list):
        return {n for v in value for n in secrets_in(v)}
    return set()


def holds_credentials(job: Mapping[str, Any]) -> bool:
    """Return True if a job can get a cloud token (id-token: write) or reads any secret."""
    permissions = job.get("permissions", {})
    oidc = permissions == "write-all" or (isinstance(permissions, Mapping) and permissions.get("id-token") == "write")
    return oidc or bool(secrets_in(job))


def environment_of(job: Mapping[str, Any]) -> str | None:
    """Return the job's environment name (`environment: NAME` or `environment: {name: NAME}`)."""
    value = job.get("environment")
    if isinstance(value, Mapping):
        value = value.get("name")
    return None if value is None else str(value)


def env_secret_findings(where: str, workflow: Mapping[str, Any]) -> Iterator[str]:
    """Report each secret in a workflow's or a job's `env:`, which every step sees: secrets go in one step's env."""
    for name in sorted(secrets_in(workflow.get("env", {}))):
        yield f"{where}: workflow env holds secret {name}; allowed: the env of the step that needs it"
    for job_name, job in workflow.get("jobs", {}).items():
        for name in sorted(secrets_in(job.get("env", {}))):
            yield f"{where}:{job_name}: job env holds secret {name}; allowed: the env of the step that needs it"


def credential_findings(where: str, workflow: Mapping[str, Any], environments: Mapping[str, Environment],
                        called: Mapping[str, Mapping[str, Any]]) -> Iterator[str]:
    """Jobs that hold credentials do so in an environment, and pull-request code only behind required reviewers.

    Outside an environment a job's OIDC subject is `repo:o/r:pull_request` or `repo:o/r:ref:...`, which no federated
    credential trusts, and a repository secret would reach a pull request that edits the workflow. `called` maps a
    local reusable workflow's path (`./.github/workflows/x.yml`) to its data: its jobs run as the caller's.
    """
    events = triggers(workflow)
    for event in sorted(events & set(REFUSED_TRIGGERS)):
        yield f"{where}: runs on {event}, which hands pull-request runs the base repository's secrets; allowed: " \
              "pull_request"
    for job_name, job in workflow.get("jobs", {}).items():
        at = f"{where}:{job_name}"
        if "uses" in job:
            if "secrets" in job:
                yield f"{at}: passes secrets to {job['uses']}; allowed: none (the called jobs use their environment's)"
            if job["uses"] in called:
                yield from credential_findings(f"{at} -> {job['uses']}", {True: workflow.get(True, {}),
                                               "jobs": called[job["uses"]].get("jobs", {})}, environments, called)
            continue
        if not holds_credentials(job):
            continue
        name = environment_of(job)
        if name is None:
            yield f"{at}: holds credentials outside an environment; allowed: a job in an environment of the table"
            continue
        environment = environments.get(name)
        if environment is None:
            yield f"{at}: environment {name} is not in docs/ci-and-fleet.md's environment table"
            continue
        if events & set(PULL_REQUEST_TRIGGERS):
            if not environment.reviewers:
                yield f"{at}: pull-request code holds credentials of environment {name}, which has no required " \
                      "reviewers; allowed: an environment with required reviewers"
            for secret in sorted(secrets_in(job)):
                yield f"{at}: pull-request code reads secret {secret}; allowed: none (a read-only OIDC identity)"
        elif not (environment.main_only or environment.reviewers):
            yield f"{at}: environment {name} has neither required reviewers nor a main-only branch rule, so a " \
                  "pull request that edits its workflow could use it"


def pin_findings(where: str, text: str) -> Iterator[str]:
    """Every action not in this repository is pinned by a full commit SHA, its version in a `# vX.Y.Z` comment."""
    for number, line in enumerate(text.splitlines(), 1):
        match = USES.match(line)
        if match is None or match.group(1).startswith("./"):
            continue
        ref, rest = match.group(1), match.group(2)
        if not PINNED.fullmatch(ref):
            yield f"{where}:{number}: {ref} is not pinned by a 40-character commit SHA"
        elif not VERSION_COMMENT.search(rest):
            yield f"{where}:{number}: {ref} has no `# vX.Y.Z` comment naming the version of its SHA"


def environment_table(markdown: str) -> dict[str, Environment]:
    """Read the table under "### Approval gates and environments": name, reviewers, branch rule."""
    section = markdown.split("### Approval gates and environments", 1)[1]
    rows = {}
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        name = cells[0].strip("`")
        rows[name] = Environment(name, cells[1] == "required", cells[2] == "`main` only")
    return rows


def load_called(paths: list[Path], load: Any) -> dict[str, Mapping[str, Any]]:
    """Map each workflow's `./.github/workflows/NAME` to its data, as `uses:` of a caller names it."""
    return {f"./.github/workflows/{p.name}": load(p) for p in paths}
