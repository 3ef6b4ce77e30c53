"""What exo-oauth writes is never silently cut and never hijacks a PR comment."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from exo_domain.exit_codes import ExitCode
from exo_oauth.cli import main
from exo_oauth.review.markdown import code, escape, fence
from tests.stack_factory import PROJECT, REPO

HOSTILE = "@acme/security-team ![p](https://tracker.example/p.png) [Approve](https://phish.example) <img src=x>"
COPIED = [HOSTILE, "scanner@contoso.com", "www.contoso.com ftp://x mailto:a@b.example",
          "https://learn.microsoft.com/en-us/exchange/client-developer/legacy-protocols/"
          "how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth",
          "Müller & Søn <ops@contoso.com> | *not bold* _nor this_ `code` \\ end"]
"""Values whose rendered text must copy back exactly: addresses, Learn URLs, markup characters."""


class _Rendered(HTMLParser):
    """The elements and the text nodes of rendered HTML, as GitHub's mention filter sees them (node by node)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.texts: list[str] = []
        self.cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.cell = self.cell or tag == "td"

    def handle_endtag(self, tag: str) -> None:
        self.cell = self.cell and tag != "td"

    def handle_data(self, data: str) -> None:
        if self.cell:
            self.texts.append(data)


def render_cell(markdown: str) -> _Rendered:
    """Render `markdown` as a GitHub table cell with GitHub's own cmark fork (autolinks on, raw HTML kept)."""
    html = cmarkgfm.github_flavored_markdown_to_html(f"| h |\n|---|\n| {markdown} |\n",
                                                     options=Options.CMARK_OPT_UNSAFE)
    rendered = _Rendered()
    rendered.feed(html)
    return rendered


def test_a_hostile_value_renders_as_text_in_markdown() -> None:
    """A stack value with a team mention, a tracking image and a link renders none of them."""
    raw = render_cell(HOSTILE)
    assert {"a", "img"} & set(raw.tags), "the stand-in renderer must show what an unescaped value does"
    escaped = render_cell(escape(HOSTILE))
    assert set(escaped.tags) <= {"table", "thead", "tbody", "tr", "th", "td", "span"}
    assert not [t for t in escaped.texts if re.search(r"(?<![\w`])@[\w-]", t)], "a text node GitHub would mention in"
    assert "\n" not in escape("a\nb")


@pytest.mark.parametrize("value", COPIED)
def test_escaped_text_copies_back_as_the_original_characters(value: str) -> None:
    """What a reader selects and copies from the rendered comment is the value itself: no link, no added character.

    GitHub's cmark fork (cmarkgfm) renders it; the copy is the cell's text nodes joined.
    """
    rendered = render_cell(escape(value))
    assert "a" not in rendered.tags
    assert "".join(rendered.texts) == value


@pytest.mark.parametrize("value", ["ftp-scanners", "a`b", "`edge`", "x``y"])
def test_a_code_span_shows_its_value_exactly(value: str) -> None:
    """An app name in a code span: no autolink, no markup, and the characters as they are (no span, no escape)."""
    html = cmarkgfm.github_flavored_markdown_to_html(f"- {code(value)}\n")
    shown = re.fullmatch(r"<ul>\n<li><code>(.*)</code></li>\n</ul>\n", html, re.S)
    assert shown is not None, html
    assert shown[1] == value


def test_an_error_line_is_fenced_longer_than_any_backtick_run_in_it() -> None:
    """Error text is fenced: a run of backticks inside cannot close the fence early."""
    block = fence("boom ```` " + HOSTILE)
    lines = block.splitlines()
    assert lines[0].startswith("`````")
    assert lines[-1] == lines[0].removesuffix("text")
    assert lines[1].endswith(HOSTILE)


def test_a_base_ref_with_a_backtick_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """`diff --base 'main`x'` is exit 2, so it can never break the markdown heading; the terminal line is printable."""
    status = main(["diff", "--base", "main\x1b[31m`](https://phish.example)", "--project-dir", str(PROJECT)])
    err = capsys.readouterr().err
    assert status == 2
    assert err == ("exo-oauth diff: --base: main`](https://phish.example) is not a git ref name exo-oauth accepts; "
                   "allowed: letters, digits and . _ / - ~ ^ @ { } (a branch, tag, commit or origin/main)\n")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [["plan", "--stack", "contoso", "--format", "json"], ["verify", "--help"]])
def test_output_to_a_full_disk_exits_non_zero_with_one_line(argv: list[str]) -> None:
    """Writing to /dev/full (a full disk) is ExitCode.OUTPUT and one line on stderr, never exit 0 or a traceback."""
    with Path("/dev/full").open("w") as full:
        done = subprocess.run([sys.executable, "-m", "exo_oauth.cli", *argv, "--project-dir", str(PROJECT)]
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
