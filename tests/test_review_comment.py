"""`exo-oauth review-comment`: the pull request comment's verdict, sections and cut."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exo_oauth.cli import main
from exo_oauth.markdown import fence
from exo_oauth.review import Part, cut, review_markdown

RUN = "https://github.com/o/r/actions/runs/7"


def comment(tmp_path: Path, capsys: pytest.CaptureFixture[str], plan: tuple[str, int, str],
            diff: tuple[str, int, str]) -> tuple[str, str]:
    """Run review-comment on saved outputs; return the printed review and the written comment."""
    argv = ["review-comment", "--base", "main", "--run-url", RUN, "--comment-out", str(tmp_path / "comment.md")]
    for name, (markdown, status, stderr) in (("plan", plan), ("diff", diff)):
        (tmp_path / f"{name}.md").write_text(markdown, encoding="utf-8")
        (tmp_path / f"{name}.err").write_text(stderr, encoding="utf-8")
        argv += [f"--{name}", str(tmp_path / f"{name}.md"), f"--{name}-stderr", str(tmp_path / f"{name}.err"),
                 f"--{name}-status", str(status)]
    assert main(argv) == 0
    return capsys.readouterr().out, (tmp_path / "comment.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("status", "stderr", "line"), [
    (0, "", "**Policy: every mandatory rule passes.**"),
    (3, "", "**Policy: a mandatory rule fails (see the plan below), so this check fails.**"),
    (2, "warning\nexo-oauth plan: stacks/Pulumi.x.yaml: config: is missing\n",
     "**The plan did not run (exit 2); its last error line is below.**"),
])
def test_verdict_follows_the_plans_exit_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], status: int, stderr: str, line: str
) -> None:
    """0 passes, 3 is a policy failure, anything else quotes the plan's last error line in a fence."""
    review, _ = comment(tmp_path, capsys, ("#### contoso\n", status, stderr), ("#### diff\n", 0, ""))
    assert line in review.splitlines()
    if stderr:
        assert fence("exo-oauth plan: stacks/Pulumi.x.yaml: config: is missing") in review


def test_sections_nest_the_plan_and_diff_under_level_three_headings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One `##` title, then `### Changes against` and `### Plan of every stack`, whose own headings start at `####`."""
    review, posted = comment(tmp_path, capsys, ("#### contoso\nplan\n", 0, ""), ("#### contoso\ndiff\n", 0, ""))
    headings = [line for line in review.splitlines() if line.startswith("#")]
    assert headings == ["## exo-oauth review", "### Changes against main", "#### contoso", "### Plan of every stack",
                        "#### contoso"]
    assert posted == review


def test_a_failed_diff_is_named_with_its_last_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The diff's section says it failed, its status and its last stderr line, instead of half a diff."""
    review, _ = comment(tmp_path, capsys, ("plan\n", 0, ""), ("partial", 2, "exo-oauth diff: --base 'x': no such "
                                                                          "commit\n"))
    assert "exo-oauth diff failed (exit 2):\n\n" + fence("exo-oauth diff: --base 'x': no such commit") in review
    assert "partial" not in review


HOSTILE = "@acme/security-team ![p](https://tracker.example/p.png) [Approve](https://phish.example)"


def test_error_lines_with_stack_values_render_as_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A plan or diff error that quotes a hostile stack value is fenced: no mention, image or link renders."""
    error = f"exo-oauth plan: stacks/Pulumi.x.yaml: exo-oauth:apps[0].displayName: {HOSTILE!r} is too long\n"
    review, _ = comment(tmp_path, capsys, ("", 2, error), ("", 2, error.replace("plan", "diff")))
    outside = re.sub(r"```text\n.*?\n```\n", "", review, flags=re.DOTALL)
    assert HOSTILE not in outside
    assert review.count(HOSTILE) == 2


def test_a_long_review_is_cut_by_characters_with_a_note() -> None:
    """The comment keeps `limit` characters (not bytes: a multi-byte letter is never split) and links the run."""
    text = "ł" * 50
    assert cut(text, 60, RUN) == text
    assert cut(text, 10, RUN) == "ł" * 10 + f"\n\n_Cut at 10 characters: the job summary of run {RUN} has the rest._\n"


def test_each_part_is_cut_before_the_whole() -> None:
    """A huge plan cannot push the diff out: each part is cut at the limit first."""
    review = review_markdown("main", Part("p" * 100, 0, ""), Part("d" * 100, 0, ""), limit=10)
    assert "d" * 10 + "\n" in review
    assert "d" * 11 not in review
    assert "p" * 11 not in review
