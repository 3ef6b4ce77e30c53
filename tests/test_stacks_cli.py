"""`exo-oauth stacks`: which stacks a workflow runs, as matrix entries, with the one list of program paths."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from exo_oauth.cli import main
from exo_oauth.fleet.matrix import Shard, matrix_entries, parse_shard, shard_of
from exo_oauth.review.changes import CODE_PATHS
from exo_oauth.util.errors import UsageError
from tests.stack_factory import PROJECT


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` and return its output."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


def commit(repo: Path, message: str) -> str:
    """Commit everything and return the new commit id."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Return a git repository with a project file, three stacks and a component, all committed."""
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "Pulumi.yaml").write_text("name: exo-oauth\nruntime: python\n", encoding="utf-8")
    (tmp_path / "stacks").mkdir()
    for name in ("contoso", "fabrikam", "tailspin"):
        (tmp_path / "stacks" / f"Pulumi.{name}.yaml").write_text("config: {}\n", encoding="utf-8")
    for path in ("components/mail_app.py", "exo_oauth/policy/rules.py", "policy/__main__.py", "README.md"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("", encoding="utf-8")
    commit(tmp_path, "start")
    return tmp_path


def stacks(repo: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    """Run `exo-oauth stacks`; return its status, the JSON entries it printed and its stderr."""
    status = main(["stacks", "--project-dir", str(repo), *argv])
    out, err = capsys.readouterr()
    assert len(out.splitlines()) <= 1, "a GitHub output value must be one line"
    return status, json.loads(out) if out else [], err


def test_all_is_every_stack_one_per_job(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--all lists every stack file in name order, one stack per matrix entry."""
    assert stacks(repo, capsys, "--all")[:2] == (0, ["contoso", "fabrikam", "tailspin"])


def test_changed_since_is_the_stacks_whose_file_changed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A stack file edit selects that stack; a deleted stack and a docs change select nothing more."""
    base = git(repo, "rev-parse", "HEAD")
    (repo / "stacks" / "Pulumi.tailspin.yaml").write_text("config: {a: 1}\n", encoding="utf-8")
    (repo / "stacks" / "Pulumi.fabrikam.yaml").unlink()
    (repo / "README.md").write_text("docs\n", encoding="utf-8")
    commit(repo, "change one stack, delete one")
    assert stacks(repo, capsys, "--changed-since", base)[:2] == (0, ["tailspin"])


def test_nothing_changed_is_an_empty_list(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A change outside stacks/ and the program gives `[]`, which the workflows test to skip the matrix."""
    base = git(repo, "rev-parse", "HEAD")
    (repo / "README.md").write_text("docs\n", encoding="utf-8")
    commit(repo, "docs")
    assert stacks(repo, capsys, "--changed-since", base)[:2] == (0, [])


@pytest.mark.parametrize("path", ["components/mail_app.py", "exo_oauth/policy/rules.py", "policy/__main__.py",
                                  "__main__.py", "Pulumi.yaml", "pyproject.toml"])
def test_a_program_change_whose_plans_cannot_be_compared_selects_every_stack(
    repo: Path, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    """A change to any program path (exo_oauth/ included) where the plans cannot be compared selects every stack.

    This repository has no program that plans, so neither side can be digested: the note says why.
    """
    base = git(repo, "rev-parse", "HEAD")
    (repo / path).write_text("# changed\n", encoding="utf-8")
    commit(repo, f"change {path}")
    status, entries, err = stacks(repo, capsys, "--changed-since", base)
    assert (status, entries) == (0, ["contoso", "fabrikam", "tailspin"])
    assert "the plans could not be compared (planning the base failed: " in err
    assert err.rstrip().endswith("every stack), in 3 job(s)")


PROGRAM = ("Pulumi.yaml", "__main__.py", "pyproject.toml", "exo_domain", "components", "exo_oauth")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Return a git repository holding this project's program and the tests' stacks, committed on main."""
    source = Path(__file__).resolve().parent.parent
    for name in PROGRAM:
        if (source / name).is_dir():
            shutil.copytree(source / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source / name, tmp_path / name)
    shutil.copytree(PROJECT / "stacks", tmp_path / "stacks")
    git(tmp_path, "init", "-q", "-b", "main")
    commit(tmp_path, "start")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    """Replace `old` (which must be there) by `new` in a file."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_code_change_that_moves_no_plan_selects_no_stack(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A program change that plans the same resources, outputs and scripts everywhere previews and deploys none."""
    (project / "components" / "mail_app.py").write_text(
        (project / "components" / "mail_app.py").read_text(encoding="utf-8") + "\n# A comment moves no plan.\n",
        encoding="utf-8")
    commit(project, "comment")
    status, entries, err = stacks(project, capsys, "--changed-since", "main~1")
    assert (status, entries) == (0, [])
    assert "the offline plan differs for 0 other stack(s); 2 stack(s) left alone" in err


def test_a_code_change_selects_only_the_stacks_whose_plan_changes(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A program change that adds an output to one stack selects that stack, names what differs, counts the rest."""
    edit(project / "__main__.py", "    pulumi.export(key, value)\n",
         '    pulumi.export(key, value)\nif pulumi.get_stack() == "fabrikam":\n'
         '    pulumi.export("note", "only here")\n')
    commit(project, "an output for fabrikam")
    status, entries, err = stacks(project, capsys, "--changed-since", "main~1")
    assert (status, entries) == (0, ["fabrikam"])
    assert "differs for 1 other stack(s): fabrikam (outputs); 1 stack(s) left alone" in err


def test_a_renderer_change_selects_the_stacks_whose_exchange_scripts_change(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A change of the Exchange script renderer alone selects every stack whose scripts it changes."""
    edit(project / "exo_domain" / "exchange_scripts.py", "Registers each app-only", "Registers every app-only")
    commit(project, "renderer wording")
    status, entries, err = stacks(project, capsys, "--changed-since", "main~1")
    assert (status, entries) == (0, ["contoso", "fabrikam"])
    assert "contoso (outputs, exchange)" in err, "the `exchange` output carries the scripts too"


def test_a_stack_file_change_is_chosen_beside_a_program_change(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An edited stack file is chosen without comparing its plan; the others are compared, and kept out here."""
    (project / "components" / "mail_app.py").write_text(
        (project / "components" / "mail_app.py").read_text(encoding="utf-8") + "\n# no plan change\n",
        encoding="utf-8")
    stack_file = project / "stacks" / "Pulumi.contoso.yaml"
    stack_file.write_text(stack_file.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    commit(project, "both")
    status, entries, err = stacks(project, capsys, "--changed-since", "main~1")
    assert (status, entries) == (0, ["contoso"])
    assert "1 stack file(s) changed; the program changed, and the offline plan differs for 0 other stack(s); " \
           "1 stack(s) left alone" in err


def test_program_paths_are_one_list_that_the_workflows_do_not_repeat() -> None:
    """The program paths live in CODE_PATHS only: no workflow carries its own copy of the list."""
    program = {"exo_oauth/", "components/", "exo_domain/", "policy/", "__main__.py", "Pulumi.yaml", "pyproject.toml"}
    assert program <= set(CODE_PATHS)
    root = Path(__file__).resolve().parent.parent / ".github"
    for path in root.rglob("*.yml"):
        text = path.read_text(encoding="utf-8")
        assert "components/" not in text, path.name
        assert "__main__" not in text, path.name


def test_changes_on_the_base_branch_after_the_fork_are_not_charged_to_the_branch(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Compared with the merge base: a component change on main after a branch forked selects nothing for it."""
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "stacks" / "Pulumi.contoso.yaml").write_text("config: {b: 2}\n", encoding="utf-8")
    commit(repo, "feature edits contoso")
    git(repo, "checkout", "-q", "main")
    (repo / "components" / "mail_app.py").write_text("# main moved on\n", encoding="utf-8")
    commit(repo, "main changes the program")
    git(repo, "checkout", "-q", "feature")
    assert stacks(repo, capsys, "--changed-since", "main")[:2] == (0, ["contoso"])


def test_unknown_ref_names_the_ref_or_takes_every_stack_when_asked(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown ref is exit 2 naming it and `git fetch`; with --if-unknown-ref all it is every stack, noted."""
    status, _, err = stacks(repo, capsys, "--changed-since", "0123456789abcdef0123456789abcdef01234567")
    assert status == 2
    assert "--changed-since '0123456789abcdef0123456789abcdef01234567': no such commit" in err
    assert "git fetch" in err
    status, entries, err = stacks(repo, capsys, "--changed-since", "gone", "--if-unknown-ref", "all")
    assert (status, entries) == (0, ["contoso", "fabrikam", "tailspin"])
    assert "gone is not in this clone" in err


def test_empty_ref_is_a_first_run_with_every_stack(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No previous deploy (an empty ref) selects every stack."""
    assert stacks(repo, capsys, "--changed-since", "")[:2] == (0, ["contoso", "fabrikam", "tailspin"])


@pytest.mark.parametrize(("spec", "expected"), [("all", ["contoso", "fabrikam", "tailspin"]),
                                                ("tailspin, contoso", ["contoso", "tailspin"]),
                                                ("fabrikam contoso fabrikam", ["contoso", "fabrikam"])])
def test_select_takes_a_dispatch_input_as_it_is(
    repo: Path, capsys: pytest.CaptureFixture[str], spec: str, expected: list[str]
) -> None:
    """A manual run's input selects all stacks or the named ones (commas or spaces, each once)."""
    assert stacks(repo, capsys, "--select", spec)[:2] == (0, expected)


def test_select_changed_uses_the_ref(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--select changed` (the dispatch default) is --changed-since; an empty input means the same."""
    base = git(repo, "rev-parse", "HEAD")
    (repo / "stacks" / "Pulumi.fabrikam.yaml").write_text("config: {c: 3}\n", encoding="utf-8")
    commit(repo, "fabrikam")
    for spec in ("changed", ""):
        assert stacks(repo, capsys, "--select", spec, "--changed-since", base)[:2] == (0, ["fabrikam"])


def test_select_of_an_unknown_stack_is_one_line_with_the_names(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt stack name is exit 2, naming it and the stacks there are; nothing on stdout."""
    status, entries, err = stacks(repo, capsys, "--select", "contoso,fabrikan")
    assert (status, entries) == (2, [])
    assert err == ("exo-oauth stacks: --select 'contoso,fabrikan': no stack fabrikan; allowed: changed, all, or "
                   "stack names (contoso, fabrikam, tailspin)\n")


def test_no_selection_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --all, --changed-since or --select the command refuses to guess."""
    assert stacks(repo, capsys)[0] == 2


def test_shards_cover_every_stack_once_in_near_equal_slices() -> None:
    """The M shards of a list are contiguous, disjoint, cover it, and differ in size by one at most."""
    names = [f"t{i:04d}" for i in range(1003)]
    slices = [shard_of(names, Shard(i, 4)) for i in range(1, 5)]
    assert [n for s in slices for n in s] == names
    assert {len(s) for s in slices} == {250, 251}


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", "-1/2"])
def test_bad_shard_is_refused(text: str) -> None:
    """A shard must be N/M with 1 <= N <= M."""
    with pytest.raises(UsageError, match="allowed: N/M"):
        parse_shard(text)


def test_auto_batches_fit_a_thousand_stacks_into_one_matrix() -> None:
    """1,000 stacks in auto batches make 250 jobs of 4: within GitHub's 256, every stack once."""
    names = [f"t{i:04d}" for i in range(1000)]
    entries = matrix_entries(names, None)
    assert len(entries) == 250
    assert [n for e in entries for n in e.split(" ")] == names


def test_too_many_jobs_without_batches_says_how_to_split(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Over --max-jobs with one stack per job: exit 2 suggesting auto batches or shards; a shard then fits."""
    status, _, err = stacks(repo, capsys, "--all", "--max-jobs", "2")
    assert status == 2
    assert "3 stacks in batches of 1 make 3 jobs, more than the 2" in err
    assert "--shard 1/2 to 2/2" in err
    assert stacks(repo, capsys, "--all", "--max-jobs", "2", "--shard", "2/2")[:2] == (0, ["tailspin"])
    assert stacks(repo, capsys, "--all", "--max-jobs", "2", "--batch-size", "auto")[:2] == (
        0, ["contoso fabrikam", "tailspin"])


def mark_example(repo: Path, name: str) -> None:
    """Mark stack `name` of `repo` as an example, as the shipped example stacks are."""
    (repo / "stacks" / f"Pulumi.{name}.yaml").write_text("config:\n  exo-oauth:example: true\n", encoding="utf-8")


@pytest.mark.parametrize("argv", [["--all"], ["--select", "all"], ["--changed-since", ""]])
def test_example_stacks_are_never_selected(repo: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """Every way of selecting all stacks leaves the examples out, and says so on stderr."""
    mark_example(repo, "contoso")
    status, entries, err = stacks(repo, capsys, *argv)
    assert (status, entries) == (0, ["fabrikam", "tailspin"])
    assert "example stacks never run: contoso" in err


def test_a_changed_example_is_not_selected(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Editing an example (or the program) never puts the example into a deploy."""
    base = git(repo, "rev-parse", "HEAD")
    mark_example(repo, "contoso")
    (repo / "components" / "mail_app.py").write_text("# changed\n", encoding="utf-8")
    commit(repo, "mark and change the program")
    assert stacks(repo, capsys, "--changed-since", base)[:2] == (0, ["fabrikam", "tailspin"])


def test_naming_an_example_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A workflow_dispatch input that names an example gets one line saying why, not a deploy."""
    mark_example(repo, "contoso")
    status, entries, err = stacks(repo, capsys, "--select", "contoso,tailspin")
    assert (status, entries) == (2, [])
    assert "contoso: example stack(s), never run by a workflow (exo-oauth:example: true)" in err


def test_no_stack_files_is_an_empty_list(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A fleet repository whose examples are deleted and that has no tenant yet: `[]`, which skips the matrix."""
    for path in (repo / "stacks").iterdir():
        path.unlink()
    assert stacks(repo, capsys, "--all")[:2] == (0, [])


def test_a_stack_file_path_selects_its_stack(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Names as tab completion types them (`stacks/Pulumi.NAME.yaml`, `Pulumi.NAME.yaml`) select those stacks."""
    assert stacks(repo, capsys, "--select", "stacks/Pulumi.tailspin.yaml Pulumi.fabrikam.yaml")[:2] == \
        (0, ["fabrikam", "tailspin"])
