"""The one markdown escaper: everything exo-oauth writes into markdown (plan, diff, PR comments) goes through here.

A stack value or an error line must render as the text it is: no markup, HTML, image, link, autolink or @mention
(a value such as `@acme/security-team ![p](https://tracker.example/p.png)` must not ping a team or load an image).
"""

from __future__ import annotations

import html
import re
from typing import Any

from ..util.text import printable

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
"""The punctuation that starts markup in a table cell or list item (`<` and `>` are HTML-escaped)."""
_AUTOLINK = re.compile(r"(?i)(h)(ttps?)|(f)(tp)|(m)(ailto)|(w)(ww)|(@)()")
"""Where GitHub starts an autolink or a mention even in escaped text: the first character, and the rest."""
MAX_FENCED = 2000


def escape(text: Any) -> str:
    """Return `text` as inline markdown that renders as exactly that text, on one line.

    Where GitHub would start an autolink or a mention, the first character goes into its own `<span>`: the text
    node that autolinking and mentions look at then holds no whole `https`, `www` or `@name`, while the page shows
    and copies the original characters (no invisible character is added, decision 0164).
    """
    escaped = _SPECIAL.sub(r"\\\1", html.escape(printable(str(text)), quote=False))
    return _AUTOLINK.sub(_split_trigger, escaped)


def _split_trigger(match: re.Match[str]) -> str:
    first, rest = (group for group in match.groups() if group is not None)
    return f"<span>{first}</span>{rest}"


def code(text: Any) -> str:
    """Return `text` as an inline code span (nothing inside renders), the fence longer than any backtick run."""
    flat = printable(str(text))
    marker = "`" * (max((len(run) for run in re.findall(r"`+", flat)), default=0) + 1)
    padding = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{marker}{padding}{flat}{padding}{marker}"


def fence(text: str, info: str = "text") -> str:
    """Return `text` as a fenced code block (nothing inside renders), the fence longer than any backtick run."""
    body = "\n".join(printable(line) for line in text[:MAX_FENCED].splitlines())
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    marker = "`" * max(3, longest + 1)
    return f"{marker}{info}\n{body}\n{marker}\n"
