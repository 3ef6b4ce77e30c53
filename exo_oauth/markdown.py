"""The one markdown escaper: everything exo-oauth writes into markdown (plan, diff, PR comments) goes through here.

A stack value or an error line must render as the text it is: no markup, HTML, image, link, autolink or @mention
(a value such as `@acme/security-team ![p](https://tracker.example/p.png)` must not ping a team or load an image).
"""

from __future__ import annotations

import html
import re
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
    flat = printable(str(text))
    joined = _AUTOLINK.sub(lambda m: m.group(1)[0] + WORD_JOINER + m.group(1)[1:], flat)
    return _SPECIAL.sub(r"\\\1", html.escape(joined, quote=False))


def fence(text: str, info: str = "text") -> str:
    """Return `text` as a fenced code block (nothing inside renders), the fence longer than any backtick run."""
    body = "\n".join(printable(line) for line in text[:MAX_FENCED].splitlines())
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    marker = "`" * max(3, longest + 1)
    return f"{marker}{info}\n{body}\n{marker}\n"
