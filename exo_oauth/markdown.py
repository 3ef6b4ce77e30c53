"""The one markdown escaper: everything exo-oauth writes into markdown (plan, diff, PR comments) goes through here.

A stack value or an error line must render as the text it is: no markup, HTML, image, link, autolink or @mention
(a value such as `@acme/security-team ![p](https://tracker.example/p.png)` must not ping a team or load an image).
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .text import printable

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
"""The punctuation that starts markup in a table cell or list item (`<` and `>` are HTML-escaped)."""
_AUTOLINK = re.compile(r"(?i)(https?|ftp|mailto|www|@)")
"""Where GitHub starts an autolink or a mention even in escaped text."""
WORD_JOINER = "\u2060"
"""Invisible, and breaks GitHub's autolink and mention detection."""
MAX_FENCED = 2000


def escape(text: Any) -> str:
    """Return `text` as inline markdown that renders as exactly that text, on one line."""
    flat = printable(str(text)).replace("\n", " ")
    joined = _AUTOLINK.sub(lambda m: m.group(1)[0] + WORD_JOINER + m.group(1)[1:], flat)
    return _SPECIAL.sub(r"\\\1", html.escape(joined, quote=False))


def fence(text: str, info: str = "text") -> str:
    """Return `text` as a fenced code block (nothing inside renders), the fence longer than any backtick run."""
    body = "\n".join(printable(line) for line in text[:MAX_FENCED].splitlines())
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    marker = "`" * max(3, longest + 1)
    return f"{marker}{info}\n{body}\n{marker}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the last non-empty line of the log LOG fenced, for a PR comment; exit 2 when it cannot be read.

    The pull-request workflow quotes `plan.err` and `diff.err` with this instead of pasting `tail -n 1` raw.
    """
    from .errors import UsageError, last_line  # noqa: PLC0415
    from .files import read_text  # noqa: PLC0415

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m exo_oauth.markdown LOG", file=sys.stderr)
        return 2
    try:
        text = read_text(Path(args[0]), args[0], "a text file (an error log)")
    except UsageError as error:
        print(f"exo_oauth.markdown: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(fence(last_line(text)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
