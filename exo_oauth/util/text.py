"""Make untrusted text (peer replies, claims, file content) safe to print on a terminal or in a CI log."""

from __future__ import annotations

import re
import unicodedata

_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]")
"""ANSI CSI and OSC sequences (colours, cursor moves, window titles, hyperlinks) and two-byte escapes."""


def printable(text: str) -> str:
    """Return `text` without terminal escape sequences and with other control characters replaced by spaces.

    Every other control or format character (C0, C1, DEL, bidirectional overrides) becomes a space, so a peer can
    neither recolour nor rewrite the user's terminal.
    """
    text = _ESCAPES.sub("", text)
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)
