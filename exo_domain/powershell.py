"""Quote values for PowerShell source text."""

from __future__ import annotations

import re

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
"""The characters PowerShell's tokenizer treats as a single quote: ' and U+2018..U+201B (CharTraits.cs)."""

_QUOTE = re.compile(f"[{SINGLE_QUOTES}]")


def ps_literal(value: str) -> str:
    """Return `value` as a single-quoted PowerShell string literal that evaluates to exactly `value`.

    Inside single quotes PowerShell expands nothing (`$`, backtick, `$(...)` and newlines stay literal) and ends the
    string at any single-quote character, typographic ones included; two in a row stand for the second one. So every
    such character is doubled, and nothing else is touched.
    """
    return "'" + _QUOTE.sub(lambda quote: quote.group(0) * 2, value) + "'"
