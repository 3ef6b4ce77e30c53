"""What exo-oauth writes is never silently cut and never hijacks a PR comment."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from components.exit_codes import ExitCode
from exo_oauth.cli import main
from exo_oauth.markdown import escape, fence
from tests.stack_factory import REPO

HOSTILE = "@acme/security-team ![p](https://tracker.example/p.png) [Approve](https://phish.example) <img src=x>"


def rendered_markup(text: str) -> list[str]:
    """Return what GitHub would render as a mention, image, link, autolink or HTML in `text` (unescaped forms)."""
    patterns = [r"(?<![\\\w])@[\w-]", r"(?<!\\)!\[", r"(?<!\\)\]\(", r"https?://", r"(?<!\\)<\w"]
    return [p for p in patterns if re.search(p, text)]


def test_a_hostile_value_renders_as_text_in_markdown() -> None:
    """A stack value with a team mention, a tracking image and a link renders none of them."""
    assert rendered_markup(HOSTILE)
    assert rendered_markup(escape(HOSTILE)) == []
    assert "\n" not in escape("a\nb")


def test_an_error_line_is_fenced_longer_than_any_backtick_run_in_it() -> None:
    """Error text is fenced: a run of backticks inside cannot close the fence early."""
    block = fence("boom ```` " + HOSTILE)
    lines = block.splitlines()
    assert lines[0].startswith("`````")
    assert lines[-1] == lines[0].removesuffix("text")
    assert lines[1].endswith(HOSTILE)


def test_a_base_ref_with_a_backtick_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """`diff --base 'main`x'` is exit 2, so it can never break the markdown heading; the terminal line is printable."""
    status = main(["diff", "--base", "main\x1b[31m`](https://phish.example)", "--project-dir", str(REPO)])
    err = capsys.readouterr().err
    assert status == 2
    assert err == ("exo-oauth diff: --base: main`](https://phish.example) is not a git ref name exo-oauth accepts; "
                   "allowed: letters, digits and . _ / - ~ ^ @ { } (a branch, tag, commit or origin/main)\n")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [["plan", "--stack", "contoso", "--format", "json"], ["verify", "--help"]])
def test_output_to_a_full_disk_exits_non_zero_with_one_line(argv: list[str]) -> None:
    """Writing to /dev/full (a full disk) is ExitCode.OUTPUT and one line on stderr, never exit 0 or a traceback."""
    with Path("/dev/full").open("w") as full:
        done = subprocess.run([sys.executable, "-m", "exo_oauth.cli", *argv, "--project-dir", str(REPO)]
                              if argv[0] == "plan" else [sys.executable, "-m", "exo_oauth.cli", *argv],
                              cwd=REPO, stdout=full, stderr=subprocess.PIPE, text=True, check=False)
    assert done.returncode == ExitCode.OUTPUT
    assert done.stderr.count("\n") == 1
    assert "could not write the output" in done.stderr


@pytest.mark.parametrize("which", [["--stack", "contoso"], ["--all"]])
def test_plan_to_a_closed_stdout_exits_non_zero_with_one_line(which: list[str]) -> None:
    """`plan >&-` (stdout closed, not redirected) is ExitCode.OUTPUT and one line on stderr, not a traceback."""
    command = [sys.executable, "-m", "exo_oauth.cli", "plan", *which, "--project-dir", str(REPO)]
    done = subprocess.run(["sh", "-c", 'exec "$0" "$@" >&-', *command], cwd=REPO, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    assert done.returncode == ExitCode.OUTPUT
    assert done.stderr.count("\n") == 1
    assert "could not write the output (Bad file descriptor)" in done.stderr


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--imap", "127.0.0.1:\u00b2"], "--imap"),
    (["--authority-host", "https://[::1"], "--authority-host"),
    (["--authority-host", "https://h:99999"], "--authority-host"),
])
def test_a_malformed_flag_is_one_line_not_a_traceback(argv: list[str], fragment: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Superscript digits and broken URLs are refused with exit 2 and the flag named."""
    status = main(["verify", "--tenant", "11111111-2222-4333-8444-555555555555", "--client-id",
                   "22222222-3333-4444-8555-666666666666", "--mailbox", "a@contoso.example", *argv])
    err = capsys.readouterr().err
    assert (status, err.count("\n")) == (2, 1)
    assert fragment in err
