"""An MSP's fleet repository: its own stacks, the examples kept or deleted, paths as typed, Windows files.

docs/fleet-repository.md is the walk-through; `test_a_fleet_repository_from_clone_to_next_release` runs its steps
that can run here (everything but GitHub and a tenant).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exo_oauth.cli import build_parser, main
from exo_oauth.commands.flags import stack_name
from exo_oauth.fleet.project import is_example_stack, load_stack, stack_names
from tests.certificates import make_certificate_pem
from tests.stack_factory import PROJECT, REPO

EXAMPLES = [name for name in stack_names(REPO) if is_example_stack(REPO, name)]
"""The example stacks shipped in stacks/, if this repository still has them."""
TAILSPIN = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
"""The first tenant of the walk-through (a made-up tenant ID)."""


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process; return its status, stdout and stderr."""
    try:
        status: object = main(argv)
    except SystemExit as stopped:
        status = stopped.code
    out, err = capsys.readouterr()
    return int(status or 0), out, err


def program_project(folder: Path, *stacks: tuple[str, str]) -> Path:
    """Write a project into `folder` (made if needed): the repository's program and the given stack files."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, folder / name)
    (folder / "stacks").mkdir()
    for name, text in stacks:
        (folder / "stacks" / f"Pulumi.{name}.yaml").write_text(text, encoding="utf-8")
    return folder


def fixture_text(name: str = "contoso") -> str:
    """Return the text of one of the tests' own stack files."""
    return (PROJECT / "stacks" / f"Pulumi.{name}.yaml").read_text(encoding="utf-8")


def test_plan_inside_another_pulumi_project_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Pulumi.yaml and stacks/ of some other project: one line naming the missing program, exit 2, no traceback."""
    (tmp_path / "Pulumi.yaml").write_text("name: billing\nruntime: nodejs\n", encoding="utf-8")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    status, out, err = run(["plan", "--all"], capsys)
    assert (status, out) == (2, "")
    assert err == (f"exo-oauth plan: {tmp_path}: no __main__.py, the exo-oauth Pulumi program, so its Pulumi.yaml "
                   "belongs to another project; allowed: run inside your exo-oauth fleet repository, or pass "
                   "--project-dir DIR\n")


def test_a_fleet_without_stack_files_plans_and_selects_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Examples deleted, first tenant not yet added: the pull-request plan passes and the matrix is empty."""
    project = program_project(tmp_path)
    status, out, err = run(["plan", "--all", "--project-dir", str(project), "--format", "json"], capsys)
    assert (status, out) == (0, '{\n  "stacks": []\n}\n')
    assert "no stack files in stacks/: nothing to plan" in err
    assert run(["stacks", "--all", "--project-dir", str(project)], capsys)[:2] == (0, "[]\n")


def stack_flags() -> dict[str, argparse.Action]:
    """Return each subcommand's `--stack` action."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: action for name, sub in commands.choices.items() for action in sub._actions
            if "--stack" in action.option_strings}


@pytest.mark.parametrize("typed", ["tailspin", "Pulumi.tailspin.yaml", "stacks/Pulumi.tailspin.yaml",
                                   "./stacks/Pulumi.tailspin.yaml", "stacks\\Pulumi.tailspin.yaml"])
def test_every_stack_flag_takes_a_name_or_the_stack_file(typed: str) -> None:
    """What tab completion types (on Linux or Windows) names the stack, in every command that takes --stack."""
    flags = stack_flags()
    assert sorted(flags) == ["adopt", "drift", "exchange", "exchange-sign-in", "plan", "rotation-due", "verify"]
    assert {name: action.type(typed) for name, action in flags.items()} == dict.fromkeys(flags, "tailspin")  # type: ignore[misc,operator]


def test_plan_takes_a_stack_file_path_and_refuses_a_file_elsewhere(capsys: pytest.CaptureFixture[str]) -> None:
    """`--stack stacks/Pulumi.contoso.yaml` plans contoso; a path outside stacks/ is one line, exit 2."""
    status, out, _ = run(["plan", "--project-dir", str(PROJECT), "--stack", "stacks/Pulumi.contoso.yaml"], capsys)
    assert status == 0
    assert "Stack contoso " in out
    status, _, err = run(["plan", "--project-dir", str(PROJECT), "--stack", "../Pulumi.contoso.yaml"], capsys)
    assert status == 2
    assert "is not a stack name; allowed: a name of letters, digits, '-', '_' and '.', or its file" in err
    assert stack_name("elsewhere/Pulumi.contoso.yaml") == "elsewhere/Pulumi.contoso.yaml"


@pytest.mark.skipif(not EXAMPLES, reason="this fleet repository deleted the example stacks")
def test_the_shipped_examples_plan_offline_and_no_workflow_selects_them(capsys: pytest.CaptureFixture[str]) -> None:
    """README's first command plans the examples; `exo-oauth stacks`, which every workflow asks, never lists them."""
    argv = ["plan", "--project-dir", str(REPO)] + [f for name in EXAMPLES for f in ("--stack", name)]
    assert run(argv, capsys)[0] == 0
    status, out, err = run(["stacks", "--all", "--project-dir", str(REPO)], capsys)
    assert status == 0
    assert not set(EXAMPLES) & set(" ".join(json.loads(out)).split())
    assert f"example stacks never run: {', '.join(EXAMPLES)}" in err


def pem_stack(newline: str) -> tuple[str, str]:
    """Return a stack file whose help desk app has its certificate in a `|` block scalar, and the certificate.

    The README's scenario and the reference show this form.
    """
    pem = make_certificate_pem(datetime.now(UTC) + timedelta(days=300))
    block = "".join(f"          {line}\n" for line in pem.splitlines())
    secret = "      credential:\n        type: secret\n        lifetimeDays: 90\n"
    text = fixture_text()
    assert secret in text
    text = text.replace(secret, "      credential:\n        type: certificate\n        publicKeyPem: |\n" + block)
    return text.replace("\n", newline), pem


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_pem_in_a_block_scalar_is_read_as_the_certificate(tmp_path: Path, newline: str) -> None:
    """`publicKeyPem: |` followed by the indented PEM (also saved with CRLF) is that certificate, line for line."""
    text, pem = pem_stack(newline)
    project = program_project(tmp_path, ("pem", text))
    helpdesk = next(a for a in load_stack(project, "pem").config.apps if a.name == "helpdesk")
    assert (helpdesk.credential.type, helpdesk.credential.public_key_pem) == ("certificate", pem)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_stack_saved_on_windows_renders_the_same_scripts_with_unix_line_endings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encoding: str
) -> None:
    """A stack file saved by Notepad or PowerShell 5.1 (BOM, UTF-16, CRLF) renders byte-identical Exchange scripts.

    The scripts are LF only whatever the stack file's line endings (PowerShell reads both; the hash of a script
    must not depend on the machine that rendered it).
    """
    text = fixture_text().replace("Contoso scanners", "Contoso Łódź scanners")
    plain, windows = program_project(tmp_path / "plain", ("contoso", text)), program_project(tmp_path / "windows")
    (windows / "stacks" / "Pulumi.contoso.yaml").write_bytes(text.replace("\n", "\r\n").encode(encoding))
    scripts = []
    for project in (plain, windows):
        status, out, err = run(["exchange", "--project-dir", str(project), "--stack", "contoso", "--offline"], capsys)
        assert status == 0, err
        scripts.append(out)
    assert scripts[0] == scripts[1]
    assert "\r" not in scripts[0]
    assert "Contoso Łódź scanners" in scripts[0]


def test_output_is_utf8_when_the_locale_is_not(tmp_path: Path) -> None:
    """Windows sends redirected output in the ANSI code page: exo-oauth writes UTF-8 anyway, so `Ł` survives."""
    project = program_project(tmp_path, ("contoso", fixture_text().replace("Contoso scanners", "Łódź scanners")))
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "PYTHONUTF8": "0"}
    done = subprocess.run([sys.executable, "-m", "exo_oauth.cli", "plan", "--stack", "contoso", "--project-dir",
                           str(project)], capture_output=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    assert "Łódź scanners" in done.stdout.decode("utf-8")


def git(folder: Path, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run git in `folder` as a fixed author."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "msp", "GIT_AUTHOR_EMAIL": "msp@example.com", "GIT_COMMITTER_NAME": "msp",
           "GIT_COMMITTER_EMAIL": "msp@example.com"}
    return subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false", *argv],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=check)


def cli(fleet: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run `exo-oauth` in the fleet repository, as the admin would."""
    return subprocess.run([sys.executable, "-m", "exo_oauth.cli", *argv], cwd=fleet, capture_output=True, text=True,
                          timeout=600, check=False)


def upstream_release(tmp_path: Path) -> Path:
    """Return exo-oauth's repository as a vendor would publish it: this tree's files, tagged v0.1.0."""
    upstream = tmp_path / "upstream"
    files = git(REPO, "ls-files", "--cached", "--others", "--exclude-standard", "-z").stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (upstream / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, upstream / name)
    git(upstream, "init", "-q")
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", "exo-oauth 0.1.0")
    git(upstream, "tag", "v0.1.0")
    return upstream


def next_release(upstream: Path) -> None:
    """Publish v0.2.0 upstream: a new version, a program change and a changed example."""
    pyproject = upstream / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace('version = "0.1.0"', 'version = "0.2.0"', 1),
                         encoding="utf-8")
    with (upstream / "components" / "mail_app.py").open("a", encoding="utf-8") as program:
        program.write("# 0.2.0\n")
    for name in EXAMPLES:
        with (upstream / "stacks" / f"Pulumi.{name}.yaml").open("a", encoding="utf-8") as example:
            example.write("# shows a key added in 0.2.0\n")
    git(upstream, "commit", "-q", "-am", "exo-oauth 0.2.0")
    git(upstream, "tag", "v0.2.0")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.skipif(not EXAMPLES, reason="this fleet repository deleted the example stacks")
def test_a_fleet_repository_from_clone_to_next_release(tmp_path: Path) -> None:
    """docs/fleet-repository.md step by step: clone a release, first tenant, examples deleted, next release.

    The tenant's stack never conflicts; a deleted example that the release changed is removed again.
    """
    upstream = upstream_release(tmp_path)
    fleet = tmp_path / "fleet"
    # 1. Create the fleet repository from a release.
    git(tmp_path, "clone", "-q", "--origin", "upstream", "--branch", "v0.1.0", str(upstream), str(fleet))
    git(fleet, "switch", "-q", "-c", "main")
    # 2. Add the first tenant: a copy of an example, without the example mark, with the tenant's ID.
    example = (fleet / "stacks" / f"Pulumi.{EXAMPLES[0]}.yaml").read_text(encoding="utf-8")
    tenant = "\n".join(line for line in example.splitlines() if "exo-oauth:example" not in line) + "\n"
    tenant = tenant.replace(load_stack(REPO, EXAMPLES[0]).config.tenant_id, TAILSPIN)
    (fleet / "stacks" / "Pulumi.tailspin.yaml").write_text(tenant, encoding="utf-8")
    assert cli(fleet, "plan", "--stack", "stacks/Pulumi.tailspin.yaml").returncode == 0
    assert cli(fleet, "stacks", "--all").stdout == '["tailspin"]\n'
    # 3. Delete the examples: the tests use their own stacks, so the repository's checks still pass.
    git(fleet, "rm", "-q", *(f"stacks/Pulumi.{name}.yaml" for name in EXAMPLES))
    git(fleet, "add", "-A")
    git(fleet, "commit", "-q", "-m", "First tenant: tailspin; examples removed")
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                               cwd=fleet, capture_output=True, text=True, timeout=600, check=False)
    assert collected.returncode == 0, collected.stdout[-2000:]
    assert cli(fleet, "plan", "--all").returncode == 0
    # 4. Take the next release.
    next_release(upstream)
    git(fleet, "fetch", "-q", "upstream", "--tags")
    # Exact renames only: by default git pairs the deleted example with the tenant's copy of it and merges the
    # release's change to the example into the tenant's stack file.
    merged = git(fleet, "merge", "-q", "--no-edit", "-X", "find-renames=100%", "v0.2.0", check=False)
    conflicts = git(fleet, "diff", "--name-only", "--diff-filter=U").stdout.split()
    assert conflicts == sorted(f"stacks/Pulumi.{name}.yaml" for name in EXAMPLES), merged.stdout + merged.stderr
    git(fleet, "rm", "-q", *conflicts)
    git(fleet, "commit", "-q", "--no-edit")
    assert 'version = "0.2.0"' in (fleet / "pyproject.toml").read_text(encoding="utf-8")
    assert (fleet / "stacks" / "Pulumi.tailspin.yaml").read_text(encoding="utf-8") == tenant
    assert cli(fleet, "stacks", "--all").stdout == '["tailspin"]\n'
    assert cli(fleet, "plan", "--all").returncode == 0
