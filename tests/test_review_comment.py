"""`exo-oauth review-comment`: the pull request comment's verdict, sections and cut."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exo_oauth.cli import main
from exo_oauth.review.access_diff import render_markdown as diff_markdown
from exo_oauth.review.comment import COMMENT_LIMIT, Part, cut, review_markdown
from exo_oauth.review.markdown import escape, fence

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


def test_a_long_review_is_cut_at_a_line_by_characters_with_a_note() -> None:
    """The comment keeps whole lines within `limit` characters (not bytes: a multi-byte letter is never split)."""
    text = "ł" * 50 + "\n" + "ł" * 50 + "\n"
    assert cut(text, 200, RUN) == text
    note = f"\n_Cut after 1 lines (51 characters): the job summary of run {RUN} has the whole review._\n"
    assert cut(text, 60, RUN) == "ł" * 50 + "\n" + note


@pytest.mark.parametrize("marker", ["```", "````", "~~~"])
def test_a_cut_inside_a_fence_closes_it(marker: str) -> None:
    """A cut that lands inside a fenced block closes it, so the note and anything after render as text."""
    text = f"before\n{marker}text\n" + "".join(f"line {n}\n" for n in range(100)) + f"{marker}\nafter\n"
    posted = cut(text, 200, RUN)
    body, note = posted.rsplit("\n\n", 1)
    assert body.endswith(f"\n{marker}")
    assert [line for line in body.splitlines() if line.startswith(marker[0])] == [f"{marker}text", marker]
    assert note.startswith("_Cut after")


def test_a_cut_after_a_closed_fence_adds_no_fence() -> None:
    """A fence opened and closed before the cut stays as it is."""
    text = "```text\nx\n```\n" + "y\n" * 100
    assert cut(text, 40, RUN).count("```") == 2


def test_the_job_summary_is_whole_and_only_the_comment_is_cut_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan beyond the comment limit: the review on stdout keeps all of it; the comment is cut once, with a note."""
    plan = "".join(f"| row {n} | {'p' * 60} |\n" for n in range(2000))
    review, posted = comment(tmp_path, capsys, (plan, 0, ""), ("#### contoso\ndiff\n", 0, ""))
    assert plan in review
    assert review == review_markdown("main", Part(plan, 0, ""), Part("#### contoso\ndiff\n", 0, ""))
    assert len(posted) < COMMENT_LIMIT + 200
    assert posted.count("_Cut after") == 1
    assert posted.startswith(review[:COMMENT_LIMIT // 2])


def test_the_review_names_the_stacks_a_change_touches_under_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The last line of `exo-oauth stacks` stderr follows the verdict, escaped; without the flag there is none."""
    note = ("exo-oauth stacks: 1 of 2 stacks (changed since origin/main: 0 stack file(s) changed; the program "
            "changed, and the offline plan differs for 1 other stack(s): fabrikam (outputs); 1 stack(s) left alone, "
            "their plan unchanged), in 1 job(s)")
    (tmp_path / "stacks.err").write_text(f"progress\n{note}\n", encoding="utf-8")
    parts = [tmp_path / n for n in ("p.md", "p.err", "d.md", "d.err")]
    for path in parts:
        path.write_text("x\n", encoding="utf-8")
    argv = ["review-comment", "--base", "main", "--run-url", RUN, "--comment-out", str(tmp_path / "c.md"),
            "--plan", str(parts[0]), "--plan-stderr", str(parts[1]), "--plan-status", "0",
            "--diff", str(parts[2]), "--diff-stderr", str(parts[3]), "--diff-status", "0"]
    assert main([*argv, "--stacks-stderr", str(tmp_path / "stacks.err")]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = ["**Policy: every mandatory rule passes.**", "", f"Stacks to preview and deploy: {escape(note)}"]
    assert lines[2:5] == expected
    assert main(argv) == 0
    assert "Stacks to preview" not in capsys.readouterr().out


def test_a_replaced_live_secret_is_said_under_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The diff's secret-replaced lines are counted in a bold line under the verdict, above the changes."""
    entry = {"stack": "contoso", "status": "changed", "changes": [
        {"kind": "secret-replaced", "app": app, "detail": "this deploy replaces the secret devices use now"}
        for app in ("scanners", "printers")]}
    review, _ = comment(tmp_path, capsys, ("#### contoso\n", 0, ""), (diff_markdown("main", [entry]), 0, ""))
    lines = review.splitlines()
    warning = ("**This deploy replaces the secret devices use now in 2 apps: they stop signing in until they get the "
               "new one (see ⚠️ below).**")
    assert lines.index(warning) < lines.index("### Changes against main")
    quiet, _ = comment(tmp_path, capsys, ("#### contoso\n", 0, ""), ("#### contoso\n- no change\n", 0, ""))
    assert "replaces the secret" not in quiet
